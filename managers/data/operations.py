"""The data manager's work in her agent, as her: start a transfer's worker, read its
progress, cancel it, forget it, and answer a "browse" question.

The agent never moves bytes itself: a transfer can take hours, and the agent
serves everything else she does. It writes the spec into her private transfer
folder and starts ``python -m managers.data.worker run <folder>``, detached (a new
session, so it outlives this request and the agent), or submits it as a Slurm job of
hers when the portal says it should leave the login node. The job script names only
the folder: the secret stays in the 0600 spec file until the worker takes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from pydantic import ValidationError

from managers.data import folders
from managers.data.progress import Progress, TransferState
from managers.data.spec import TransferSpec
from managers.errors import OperationError
from managers.execution.operations import run_slurm
from managers.scheduler.slurm import batch

__all__ = ["browse", "cancel", "forget", "progress", "start", "worker_alive"]

BROWSE_SECONDS = 90.0
PARTITION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# Workers this agent started: waited for in a thread each, so none lingers as a
# zombie that still looks alive.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _me() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def _worker_argv(folder: str) -> list[str]:
    # -I: none of her PYTHON* variables or user site-packages in the worker.
    return [sys.executable, "-I", "-m", "managers.data.worker", "run", folder]


def worker_alive(folder: str) -> bool | None:
    """Whether this folder's detached worker still runs: None when it does not run on
    this host (a Slurm job, another login node) or never started here."""
    where = folders.read_worker(folder)
    if not where or not isinstance(where.get("pid"), int):
        return None
    if where.get("host") != socket.gethostname():
        return None
    pid = int(where["pid"])
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().split(b"\0")
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rpartition(b")")[2].split()[0]
    except OSError:
        return False
    # The pid may have been reused by something else since.
    return state != b"Z" and b"managers.data.worker" in command and folder.encode() in command


def _validated(spec: dict[str, Any]) -> TransferSpec:
    try:
        parsed = TransferSpec.model_validate(spec)
    except ValidationError as error:
        raise OperationError("The transfer's description is not valid.", "invalid") from error
    if parsed.owner != _me():
        raise OperationError("This transfer belongs to someone else.", "EACCES")
    return parsed


def _fresh_start(folder: str) -> None:
    """Before a (re)start: no cancel left from a previous run, and a "waiting" report
    in place of the previous run's last one (a retry must not read as failed)."""
    folders.clear_cancel(folder)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(folder, folders.WORKER))
    folders.write_progress(folder, Progress(state=TransferState.WAITING, heartbeat=time.time()))


def _job_script(folder: str) -> str:
    return (
        "#!/bin/bash\n"
        "# An Onestop data transfer: its instructions are in the folder below.\n"
        f"exec {shlex.join(_worker_argv(folder))}\n"
    )


def _submit(spec: TransferSpec, folder: str, job: dict[str, Any]) -> dict[str, Any]:
    partition = str(job.get("partition") or "")
    if len(partition) > 64 or not set(partition) <= PARTITION_CHARS:
        raise OperationError("That is not a partition name.", "invalid")
    try:
        minutes = int(job.get("time_minutes") or 60)
        cpus = int(job.get("cpus") or 1)
        memory = int(job.get("memory_mb") or 0)
    except (TypeError, ValueError) as error:
        raise OperationError("The job's resources are not numbers.", "invalid") from error
    options = [
        f"--job-name=onestop-data-{spec.id}",
        f"--comment=onestop-data:{spec.id}",
        f"--output={folder}/{folders.LOG}",
        f"--chdir={folder}",
        "--nodes=1",
        "--ntasks=1",
        f"--cpus-per-task={max(cpus, 1)}",
        f"--time={max(minutes, 1)}",
    ]
    if memory > 0:
        options.append(f"--mem={memory}M")
    if partition:
        options.append(f"--partition={partition}")
    job_id = run_slurm(
        batch.submit(_job_script(folder), options), refused="The cluster refused the transfer"
    )
    return {"job_id": job_id}


def _spawn(folder: str) -> dict[str, Any]:
    log = os.open(
        os.path.join(folder, folders.LOG),
        os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    try:
        child = subprocess.Popen(
            _worker_argv(folder),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=folder,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        raise OperationError(f"The transfer could not start: {error.strerror}.") from error
    finally:
        os.close(log)
    _CHILDREN[child.pid] = child
    threading.Thread(target=child.wait, name=f"data-worker-{child.pid}", daemon=True).start()
    folders.write_worker(folder, child.pid)
    return {"pid": child.pid, "host": socket.gethostname()}


def start(spec: dict[str, Any], job: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start one transfer: ``{"pid", "host"}`` for a worker here, ``{"job_id"}`` for a
    Slurm job. A transfer whose worker still runs is not started twice."""
    parsed = _validated(spec)
    folder = folders.prepare(parsed.id)
    if worker_alive(folder):
        raise OperationError("This transfer is already under way.", "conflict")
    _fresh_start(folder)
    folders.write_spec(folder, spec)
    if job is not None:
        try:
            return _submit(parsed, folder, job)
        except OperationError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, folders.SPEC))  # the secret goes with it
            raise
    return _spawn(folder)


def progress(ids: list[str]) -> dict[str, Any]:
    """Each transfer's last report and whether its worker still runs here."""
    answer: dict[str, Any] = {}
    for transfer_id in ids:
        folder = folders.path_of(str(transfer_id))
        if not os.path.isdir(folder) or os.path.islink(folder):
            answer[transfer_id] = {"progress": None, "alive": None}
            continue
        answer[transfer_id] = {
            "progress": folders.read_progress(folder),
            "alive": worker_alive(folder),
        }
    return answer


def cancel(id: str, job_id: str | None = None) -> dict[str, Any]:
    """Ask the worker to stop (a ``cancel`` file, then SIGTERM), and cancel its job."""
    folder = folders.path_of(id)
    if os.path.isdir(folder) and not os.path.islink(folder):
        folders.request_cancel(folder)
        where = folders.read_worker(folder)
        if worker_alive(folder) and where is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(where["pid"]), signal.SIGTERM)
    if job_id:
        if not str(job_id).isdigit():
            raise OperationError(f"{job_id!r} is not a job number.", "invalid")
        run_slurm(batch.cancel(str(job_id)), refused="The cluster could not stop the transfer")
    return {"id": id, "cancelled": True}


def forget(id: str) -> dict[str, Any]:
    """Remove the transfer's folder (never while its worker runs)."""
    folder = folders.path_of(id)
    if worker_alive(folder):
        raise OperationError("This transfer is still under way: cancel it first.", "conflict")
    return {"id": id, "removed": folders.forget(id)}


def browse(request: dict[str, Any]) -> dict[str, Any]:
    """One listing of the far side, asked of a worker in a process of its own (the
    guard is for good in the process that installs it)."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-m", "managers.data.worker", "browse"],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=BROWSE_SECONDS,
            check=False,
            cwd="/",
        )
    except subprocess.TimeoutExpired:
        return {"error": {"code": "network", "message": "The server took too long to answer."}}
    try:
        answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        answer = None
    if not isinstance(answer, dict):
        return {"error": {"code": "failed", "message": "The listing failed unexpectedly."}}
    return answer
