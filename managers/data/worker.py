"""The process that does one transfer: ``python -m managers.data.worker run <folder>``.

Started by her agent (detached, so it outlives the agent's request and the portal)
or by her Slurm job on the transfer partition; either way as her. It takes the spec
out of the folder (removing it, so the secret in it lives on only in this process),
refuses a spec that names someone else, guards every connection it will make
(guard.py), moves the bytes with the source's module, and reports in
``progress.json`` every half second and once at the end, which is all the portal
ever learns of it.

``python -m managers.data.worker browse`` answers one question instead: a JSON
request on standard input (``{"endpoint", "path", "network"}``), a JSON answer on
standard output: ``{"entries": [...]}``, ``{"host_key_unknown": {"key",
"fingerprint"}}`` or ``{"error": {"code", "message"}}``. A separate process for the
same reason as a transfer: the guard's audit hook is for good, and her agent must
not carry it.

Messages are for her: a failure is one plain sentence with a code from progress.py,
never a traceback; secrets are scrubbed from anything written to the log.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import json
import os
import pwd
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from managers.data import folders
from managers.data.context import Cancelled, TransferError, Work
from managers.data.guard import AddressRefused, Guard, install
from managers.data.progress import Progress, TransferState
from managers.data.sources import module_for
from managers.data.spec import Direction, NetworkRules, TransferSpec
from managers.errors import OperationError

__all__ = ["describe", "main"]

TICK = 0.5
BROWSE_SECONDS = 60.0


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what it wraps (causes, contexts, aiohttp's ``os_error``)."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(seen) < 20:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        for inner in (
            current.__cause__,
            current.__context__,
            getattr(current, "os_error", None),
            *getattr(current, "exceptions", ()),
        ):
            if isinstance(inner, BaseException):
                pending.append(inner)
    return seen


def describe(error: BaseException, guard: Guard | None = None) -> tuple[str, str]:
    """(code, plain message) for anything a transfer may raise."""
    chain = _chain(error)
    for item in chain:
        if isinstance(item, TransferError):
            return item.code, item.message
        if isinstance(item, AddressRefused):
            return "refused_address", item.message
    if (
        guard is not None
        and guard.last_refusal
        and any(isinstance(item, OSError | ConnectionError) for item in chain)
    ):
        return "refused_address", guard.last_refusal
    names = {type(item).__name__ for item in chain}
    for item in chain:
        if isinstance(item, OSError) and item.errno == errno.ENOSPC:
            return "no_space", "The disk is full, so the transfer stopped."
        if isinstance(item, OSError) and item.errno == errno.EDQUOT:
            return "quota", "Your quota is full, so the transfer stopped."
    if names & {
        "SSLError",
        "ClientSSLError",
        "ClientConnectorCertificateError",
        "SSLCertVerificationError",
    }:
        return "network", "The server's certificate could not be verified, so nothing was moved."
    if names & {"gaierror", "ClientConnectorDNSError"}:
        return "network", "The server's name could not be found."
    if names & {
        "NoCredentialsError",
        "PermissionDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
    }:
        return "auth", "The server did not accept the credentials."
    for item in chain:
        if isinstance(item, FileNotFoundError):
            return "not_found", "There is no such file or folder on the other side."
        if isinstance(item, PermissionError):
            return "auth", "Access was refused by the other side."
    if names & {
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ClientPayloadError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "TimeoutError",
        "ConnectError",
        "ReadTimeout",
        "ConnectTimeout",
        "RemoteProtocolError",
        "ConnectionLost",
        "DisconnectError",
        "EndpointConnectionError",
        "ClientConnectionError",
        "ServerTimeoutError",
    }:
        return "network", "The connection to the server failed or was lost."
    if "ClientError" in names:  # botocore's: the server said no
        return "auth", "The storage refused the request (check the bucket and the keys)."
    return "failed", "The transfer failed for an unexpected reason."


def _secrets_of(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, SecretStr):
        if value.get_secret_value():
            found.append(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found += _secrets_of(getattr(value, name))
    elif isinstance(value, tuple | list):
        for item in value:
            found += _secrets_of(item)
    return found


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "**********")
    return text


def _log(message: str, secrets: list[str]) -> None:
    print(_scrub(message, secrets), file=sys.stderr, flush=True)


class Reporter:
    """Writes ``progress.json`` every tick (its own thread, so a blocking source never
    stops the heartbeat) and turns a ``cancel`` file into a cancel."""

    def __init__(self, work: Work, on_cancel: Any) -> None:
        self.work = work
        self.on_cancel = on_cancel
        self.samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=10)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self.host = socket.gethostname()

    def rate(self) -> float:
        now = time.monotonic()
        self.samples.append((now, self.work.bytes_done))
        first, last = self.samples[0], self.samples[-1]
        elapsed = last[0] - first[0]
        return max(0.0, (last[1] - first[1]) / elapsed) if elapsed > 0 else 0.0

    def write(self, **extra: Any) -> None:
        progress = self.work.snapshot(
            pid=os.getpid(), host=self.host, heartbeat=time.time(), **extra
        )
        with contextlib.suppress(OSError):
            folders.write_progress(self.work.folder, progress)

    def _loop(self) -> None:
        while not self.stop.wait(TICK):
            if folders.cancel_requested(self.work.folder) and not self.work.cancelled.is_set():
                self.on_cancel()
            self.write(rate=self.rate())


def _fail_early(folder: str, code: str, message: str) -> int:
    """A spec that cannot be run at all: said in progress.json, then exit."""
    progress = Progress(
        state=TransferState.FAILED,
        error=code,
        message=message,
        pid=os.getpid(),
        host=socket.gethostname(),
        heartbeat=time.time(),
        ended_at=time.time(),
    )
    with contextlib.suppress(OSError):
        folders.write_progress(folder, progress)
    return 2


def _check_local(spec: TransferSpec) -> None:
    path = spec.local_path
    if spec.direction is Direction.IMPORT:
        if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
            raise TransferError("failed", f"{path} is not a folder you may write to.")
    elif not os.path.exists(path) or not os.access(path, os.R_OK):
        raise TransferError("not_found", f"There is no file or folder of yours at {path}.")


async def _transfer(work: Work, reporter: Reporter, secrets: list[str]) -> dict[str, Any]:
    """Do the transfer; what the final progress adds (state, error, verified...)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def cancel() -> None:
        work.cancelled.set()
        loop.call_soon_threadsafe(task.cancel)

    reporter.on_cancel = cancel
    loop.add_signal_handler(signal.SIGTERM, cancel)
    loop.add_signal_handler(signal.SIGINT, cancel)
    spec = work.spec
    try:
        if folders.cancel_requested(work.folder):
            raise Cancelled()
        work.set_state(TransferState.RUNNING)
        _check_local(spec)
        module = module_for(spec.source.kind)
        if spec.direction is Direction.IMPORT:
            await module.fetch(work)
        else:
            send = getattr(module, "send", None)
            if send is None:
                raise TransferError("failed", f"{spec.source.kind} cannot receive files.")
            await send(work)
    except (asyncio.CancelledError, Cancelled):
        work.clean_up()
        return {"state": TransferState.CANCELLED, "error": "cancelled", "message": "Cancelled."}
    except BaseException as error:
        work.clean_up()
        if work.cancelled.is_set():
            return {"state": TransferState.CANCELLED, "error": "cancelled", "message": "Cancelled."}
        extra: dict[str, Any] = {}
        if isinstance(error, TransferError) and error.code == "host_key_unknown" and error.key:
            extra = {"offered_host_key": error.key, "offered_fingerprint": error.fingerprint}
        code, message = describe(error, work.guard)
        if code == "failed" and not isinstance(error, TransferError):
            _log("".join(traceback.format_exception(error)), secrets)
        else:
            _log(f"transfer failed: {code}: {message}", secrets)
        return {"state": TransferState.FAILED, "error": code, "message": message, **extra}
    checks = work.checks
    verified = (
        bool(checks)
        and len(checks) >= work.files_done
        and all(check.ok and check.method != "size" for check in checks)
    )
    done = (
        f"{work.files_done:,} file{'s' if work.files_done != 1 else ''}, {work.bytes_done:,} bytes"
    )
    return {
        "state": TransferState.DONE,
        "message": f"Done: {done}{', verified' if verified else ''}.",
        "verified": verified,
    }


def run(folder: str) -> int:
    folder = os.path.abspath(folder)
    try:
        wire = folders.take_spec(folder)
    except (OperationError, ValueError) as error:
        message = error.message if isinstance(error, OperationError) else "unreadable"
        return _fail_early(folder, "failed", f"The transfer could not start: {message}")
    try:
        spec = TransferSpec.model_validate(wire)
    except ValidationError:
        return _fail_early(folder, "failed", "The transfer's instructions are not valid.")
    finally:
        wire.clear()
    me = pwd.getpwuid(os.getuid()).pw_name
    if spec.owner != me:
        return _fail_early(folder, "failed", "This transfer belongs to someone else.")
    secrets = _secrets_of(spec)
    guard = Guard(spec.network)
    install(guard)
    work = Work(spec, folder, guard)
    reporter = Reporter(work, on_cancel=work.cancelled.set)
    reporter.write()
    reporter.thread.start()
    outcome = _until_complete(_transfer(work, reporter, secrets))
    reporter.stop.set()
    reporter.thread.join(timeout=2)
    state = outcome.pop("state")
    work.set_state(state, outcome.pop("message"))
    work.current = None
    reporter.write(rate=0.0, ended_at=time.time(), **outcome)
    return 0 if state is TransferState.DONE else 1


def _until_complete(coroutine: Any) -> Any:
    """``asyncio.run`` without its wait for the default executor's threads: a thread
    blocked on a dead connection must not keep a cancelled worker from ending."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(coroutine)


def browse() -> int:
    """One listing (or host key) as JSON on standard output."""
    try:
        request = json.loads(sys.stdin.read(1 << 20))
        endpoint = request["endpoint"]
        kind = str(endpoint["kind"])
        rules = NetworkRules.model_validate(request.get("network") or {})
    except (ValueError, KeyError, TypeError, ValidationError):
        print(json.dumps({"error": {"code": "failed", "message": "The request is not valid."}}))
        return 2
    guard = Guard(rules)
    install(guard)
    try:
        module = module_for(kind)
        answer = _until_complete(asyncio.wait_for(module.browse(request, guard), BROWSE_SECONDS))
    except BaseException as error:
        if isinstance(error, TransferError) and error.code == "host_key_unknown" and error.key:
            answer = {"host_key_unknown": {"key": error.key, "fingerprint": error.fingerprint}}
        else:
            code, message = describe(error, guard)
            if isinstance(error, ValidationError):
                code, message = "failed", "The connection's details are not valid."
            answer = {"error": {"code": code, "message": message}}
    print(json.dumps(answer), flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "run":
        return run(argv[1])
    if argv == ["browse"]:
        return browse()
    print("usage: python -m managers.data.worker run <folder> | browse", file=sys.stderr)
    return 2


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads of libraries (s3fs's loop, a read blocked on a slow server) must not
    # keep a finished worker alive: everything that matters is on disk by now.
    os._exit(code)
