"""A real Jupyter server in a Slurm job of a demo person, started as a session's job is.

The proxy's tests and benchmark do not go through the notebook verbs: they submit the
batch script of managers/notebooks/launch.py with sbatch as the person (the options
managers/notebooks/operations.start uses), wait for its server.json, and record the
session in the portal's database as the monitor leaves it once the probe answered
(``register``). The portal's monitor then finds the job running and the server
answering, and leaves the session ready. Everything is the real thing: Slurm, the
shared Jupyter environment, the secret file, server.json, the portal.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlmodel import Session, create_engine
from websockets.typing import Subprotocol

from managers.notebooks.launch import batch_script
from wrappers.notebooks.models import NotebookSession

JUPYTER_ENV = os.environ.get("ONESTOP_NOTEBOOKS__JUPYTER_ENV", "/opt/onestop/jupyter")


@dataclass
class Jupyter:
    session_id: str
    owner: str
    secret: str
    host: str
    port: int
    folder: Path
    log: Path
    job_id: str | None = None

    @property
    def base(self) -> str:
        return f"/notebooks/{self.session_id}/"


def _as(user: str, *command: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["runuser", "-u", user, "--", *command],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _gone(job_id: str) -> bool:
    listed = subprocess.run(
        ["squeue", "--noheader", "--jobs", job_id, "--format=%i"], capture_output=True, text=True
    )
    return job_id not in listed.stdout


@contextlib.contextmanager
def jupyter_as(
    user: str, interface: Literal["lab", "notebook"] = "lab", folder: str = ""
) -> Iterator[Jupyter]:
    """Jupyter in a Slurm job of ``user``, answering; the job is cancelled on exit."""
    home = pwd.getpwnam(user).pw_dir
    session_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    session_dir = Path(home, ".onestop", "notebooks", session_id)
    _as(user, "mkdir", "-p", "-m", "0700", str(session_dir))
    _as(user, "sh", "-c", 'umask 077; cat > "$1"', "-", f"{session_dir}/secret", stdin=secret)
    log = session_dir / "output.log"
    job_id = _as(
        user,
        "sbatch",
        "--parsable",
        f"--job-name=onestop-notebook-{session_id}",
        f"--output={log}",
        f"--chdir={home}",
        "--nodes=1",
        "--ntasks=1",
        "--cpus-per-task=1",
        "--time=20",
        stdin=batch_script(session_id, str(session_dir), interface, folder or home, JUPYTER_ENV),
    ).strip()
    try:
        server = session_dir / "server.json"
        deadline = time.monotonic() + 90
        while not server.exists():
            if _gone(job_id) or time.monotonic() > deadline:
                output = log.read_text() if log.exists() else "(no output)"
                raise RuntimeError(f"Jupyter did not start in job {job_id}:\n{output[-3000:]}")
            time.sleep(0.1)
        where = json.loads(server.read_text())
        yield Jupyter(
            session_id, user, secret, where["host"], where["port"], session_dir, log, job_id
        )
    finally:
        subprocess.run(["scancel", job_id], check=False)
        deadline = time.monotonic() + 30
        while not _gone(job_id) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(session_dir, ignore_errors=True)


def register(database_url: str, jupyter: Jupyter, state: str = "ready", **values: object) -> None:
    """The session's row as the monitor leaves it once the probe answered.

    A row without a job (a stand-in server, not Jupyter) is left alone by the monitor
    for its first two minutes (``START_GRACE``), then ended: use it only briefly.
    """
    engine = create_engine(database_url)
    try:
        with Session(engine) as db:
            row = db.get(NotebookSession, jupyter.session_id)
            if row is None:
                row = NotebookSession(
                    id=jupyter.session_id,
                    owner=jupyter.owner,
                    secret=jupyter.secret,
                    token=jupyter.session_id,
                    label="proxy test",
                )
            row.host, row.port, row.state = jupyter.host, jupyter.port, state
            row.job_id = jupyter.job_id
            for key, value in values.items():
                setattr(row, key, value)
            db.add(row)
            db.commit()
    finally:
        engine.dispose()


# The kernel WebSocket's v1 protocol (jupyter_server's kernels/connection/base.py):
# binary frames of offsets, the channel name, then the message parts.
KERNEL_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def encode_v1(channel: str, parts: list[bytes]) -> bytes:
    name = channel.encode()
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(name))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
    return head + name + b"".join(parts)


def decode_v1(frame: bytes) -> tuple[str, list[bytes]]:
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    channel = frame[offsets[0] : offsets[1]].decode()
    return channel, [frame[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]


def shell_request(msg_type: str, content: dict[str, object], session: str) -> tuple[str, bytes]:
    """A shell-channel request; returns (msg_id, frame)."""
    msg_id = secrets.token_hex(16)
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": "test",
        "session": session,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "version": "5.3",
    }
    parts = [json.dumps(part).encode() for part in (header, {}, {}, content)]
    return msg_id, encode_v1("shell", parts)


def execute_request(code: str, session: str) -> tuple[str, bytes]:
    """A shell-channel execute_request for ``code``; returns (msg_id, frame)."""
    content: dict[str, object] = {
        "code": code,
        "silent": False,
        "store_history": False,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    return shell_request("execute_request", content, session)


def execute_result(frame: bytes, msg_id: str) -> str | None:
    """The text/plain result in ``frame`` if it answers ``msg_id``."""
    channel, parts = decode_v1(frame)
    if channel != "iopub" or len(parts) < 4:
        return None
    header, parent = json.loads(parts[0]), json.loads(parts[1])
    if header.get("msg_type") != "execute_result" or parent.get("msg_id") != msg_id:
        return None
    return str(json.loads(parts[3])["data"]["text/plain"])


def run_in_kernel(origin: str, cookie: str, base: str, kernel: str, code: str) -> str:
    """Run ``code`` in a kernel over the proxy's WebSocket on the session's ``origin``
    (sending ``cookie``, its pass), as JupyterLab does; its text/plain result."""
    from tests.notebook_origin import open_ws

    session = secrets.token_hex(8)
    url = origin.replace("http://", "ws://") + f"{base}api/kernels/{kernel}/channels"
    with open_ws(
        f"{url}?session_id={session}",
        cookie,
        origin,
        subprotocols=[Subprotocol(KERNEL_PROTOCOL)],
    ) as ws:
        msg_id, frame = execute_request(code, session)
        ws.send(frame)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = ws.recv(timeout=60)
            if isinstance(answer, bytes) and (result := execute_result(answer, msg_id)):
                return result
    raise AssertionError(f"the kernel gave no result for {code!r}")
