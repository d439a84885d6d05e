"""Starting and stopping a notebook session, run in the person's agent as her.

The portal has already asked policy and chosen the session id and secret; this
module makes the session folder (``~/.onestop/notebooks/<id>``, mode 0700) with the
secret in it (0600), so only she and root can read it, then submits the job with
sbatch as her. Resources go through sbatch arguments, never through lines in the
script, and the script itself comes from ``launch.batch_script``.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import shutil
from typing import Any

from managers.errors import OperationError
from managers.execution.operations import run_slurm
from managers.notebooks import job_name
from managers.notebooks.launch import batch_script
from managers.scheduler.slurm import batch

SESSION_ID = re.compile(r"^[0-9a-f]{16}$")
PARTITION = re.compile(r"^[A-Za-z0-9_.-]{0,64}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
INTERFACES = ("lab", "notebook")


def home() -> str:
    return pwd.getpwuid(os.getuid()).pw_dir


def session_dir(session_id: str) -> str:
    return os.path.join(home(), ".onestop", "notebooks", session_id)


def _private_folder(path: str) -> None:
    """``path`` as a folder of hers with mode 0700 (made if missing).

    A symlink or someone else's folder in its place is refused: the secret must land
    where only she can read it.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.getuid():
        raise OperationError(
            f"{path} is in the way: it should be a folder of yours. Rename it and try again.",
            "EEXIST",
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)


def prepare(session_id: str, secret: str) -> str:
    """The session folder with its ``secret`` file; returns the folder."""
    base = home()
    folder = session_dir(session_id)
    try:
        for path in (
            os.path.join(base, ".onestop"),
            os.path.join(base, ".onestop", "notebooks"),
            folder,
        ):
            _private_folder(path)
        # Written fresh each time (a retried start writes the same secret again);
        # O_NOFOLLOW: never through a link someone left in the folder.
        secret_path = os.path.join(folder, "secret")
        with open(
            os.open(
                secret_path,
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            ),
            "w",
        ) as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(secret)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OperationError(
                "Your home folder is full, so the notebook session could not be prepared.",
                "ENOSPC",
            ) from error
        raise OperationError(
            f"The notebook session folder could not be prepared in {base}: {error.strerror}.",
            "EIO",
        ) from error
    return folder


def _check(session_id: str, secret: str, interface: str, partition: str, folder: str) -> None:
    if not SESSION_ID.fullmatch(session_id):
        raise OperationError("That is not a notebook session id.", "invalid")
    if not SECRET.fullmatch(secret):
        raise OperationError("The session's secret has an unexpected form.", "invalid")
    if interface not in INTERFACES:
        raise OperationError("Choose JupyterLab or the classic notebook.", "invalid")
    if not PARTITION.fullmatch(partition):
        raise OperationError("That is not a partition name.", "invalid")
    if not os.path.isabs(folder) or "\x00" in folder:
        raise OperationError("The folder must be a full path, starting with /.", "invalid")


def start(
    session_id: str,
    secret: str,
    interface: str,
    folder: str,
    jupyter_env: str,
    partition: str = "",
    cores: int = 1,
    memory_mb: int = 0,
    time_minutes: int = 60,
) -> dict[str, Any]:
    """Prepare the session folder and submit the Jupyter job; ``{"job_id": ...}``.

    A start sent again for the same session (its first answer was lost) finds the
    job already submitted, by its name, instead of starting a second server.
    """
    _check(session_id, secret, interface, partition, folder)
    base = home().rstrip("/")
    if folder != base and not folder.startswith(base + "/"):
        raise OperationError(
            f"Notebooks open in your home folder ({base}) or a folder inside it.", "invalid"
        )
    if not (os.path.isdir(folder) and os.access(folder, os.R_OK | os.X_OK)):
        raise OperationError(f"There is no folder you can open at {folder}.", "ENOENT")
    existing = _job_named(job_name(session_id))
    if existing:
        return {"job_id": existing, "reused": True}
    directory = prepare(session_id, secret)
    script = batch_script(session_id, directory, interface, folder, jupyter_env)  # type: ignore[arg-type]
    options = [
        f"--job-name={job_name(session_id)}",
        f"--comment=onestop-notebook:{session_id}",
        f"--output={directory}/output.log",
        f"--chdir={folder}",
        "--nodes=1",
        "--ntasks=1",
        f"--cpus-per-task={int(cores)}",
        f"--time={int(time_minutes)}",
    ]
    if memory_mb:
        options.append(f"--mem={int(memory_mb)}M")
    if partition:
        options.append(f"--partition={partition}")
    job_id = run_slurm(
        batch.submit(script, options), refused="The cluster refused the notebook session"
    )
    return {"job_id": job_id, "reused": False}


def _job_named(name: str) -> str:
    """Her job called ``name`` still in the queue, or ""."""
    return run_slurm(batch.job_named(name), refused="The scheduler could not list your jobs")


def stop(session_id: str, job_id: str = "") -> dict[str, Any]:
    """Cancel the session's job (by number, or by name if its number never arrived)."""
    if not SESSION_ID.fullmatch(session_id):
        raise OperationError("That is not a notebook session id.", "invalid")
    if job_id and not job_id.isdigit():
        raise OperationError(f"{job_id!r} is not a job number.", "invalid")
    me = pwd.getpwuid(os.getuid()).pw_name
    command = batch.cancel(job_id) if job_id else batch.cancel_named(me, job_name(session_id))
    run_slurm(command, refused="The cluster could not stop the session")
    return {"session_id": session_id, "job_id": job_id}


def forget(session_ids: list[str]) -> dict[str, Any]:
    """Remove the folders of sessions the portal no longer lists (their secret, their
    server.json and the job's output.log), so ``~/.onestop/notebooks`` does not grow
    with every session she ever started. A folder already gone is fine."""
    removed = []
    for session_id in session_ids:
        if not SESSION_ID.fullmatch(session_id):
            raise OperationError("That is not a notebook session id.", "invalid")
        path = session_dir(session_id)
        if os.path.islink(path):  # only ever her own folder, never what a link names
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            continue
        removed.append(session_id)
    return {"removed": removed}
