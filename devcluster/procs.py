"""Starting, finding and stopping the daemons of the cluster in a box.

The daemons fork into the background themselves and write pid files.  A pid file
can be stale (the daemon was killed with SIGKILL, or the pid was reused), so a
process counts as "ours" only when /proc shows the right program (and, for a
slurmd, the right ``-N`` node name).  When the pid file is missing or stale, /proc
is scanned, so a daemon is never started twice.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devcluster import layout
from devcluster.errors import DevclusterError, log_tail

# A forked daemon shows up in /proc at once; one that has not after this long has died.
APPEAR_TIMEOUT = 10.0


@dataclass(frozen=True)
class Daemon:
    """A daemon we manage: how to start it and how to recognise it."""

    name: str
    argv: tuple[str, ...]
    pid_file: Path
    log_file: Path
    ready: Callable[[], bool] | None = None
    node: str | None = None
    user: str | None = None

    @property
    def exe(self) -> str:
        return os.path.basename(self.argv[0])


def _node_flag(args: Sequence[str]) -> str | None:
    """The node name given to ``slurmd -N name`` (or ``-Nname``), if any."""
    for index, arg in enumerate(args):
        if arg == "-N" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("-N") and len(arg) > 2:
            return arg[2:]
    return None


def _is_live(pid: int) -> bool:
    """True for a process that exists and is not a zombie (containers may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def _matches(daemon: Daemon, pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    if not args or os.path.basename(args[0]) != daemon.exe:
        return False
    return _node_flag(args[1:]) == daemon.node and _is_live(pid)


def _pid_from_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pids(daemon: Daemon) -> list[int]:
    """The live processes of ``daemon``: its pid file's pid if valid, else a /proc scan."""
    pid = _pid_from_file(daemon.pid_file)
    if pid is not None and _matches(daemon, pid):
        return [pid]
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _matches(daemon, int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ensure_owned_file(path: Path, user: str) -> None:
    """Create ``path`` if needed and give it to ``user``, so a daemon that drops to that
    user can still append to a log file we opened first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def start(daemon: Daemon, timeout: float = 60.0) -> int:
    """Start ``daemon`` (which forks into the background) and wait until it runs and
    its ``ready`` check (a real request, not a bare port probe that daemons log as an
    error) passes.  Returns its pid."""
    if daemon.user:
        ensure_owned_file(daemon.log_file, daemon.user)
    daemon.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(daemon.log_file, "a") as log:
        result = subprocess.run(
            daemon.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=layout.DAEMON_ENV,
            cwd="/",
            user=daemon.user,
            group=daemon.user,
            # Drop root's supplementary groups too when running as another user.
            extra_groups=[] if daemon.user else None,
            check=False,
            timeout=timeout,
        )
    if result.returncode != 0:
        raise DevclusterError(
            f"{daemon.name} exited with status {result.returncode} while starting; "
            f"read {daemon.log_file}:\n{log_tail(daemon.log_file)}"
        )
    deadline = time.monotonic() + timeout
    seen = False
    appear_by = time.monotonic() + min(timeout, APPEAR_TIMEOUT)
    while time.monotonic() < deadline:
        found = pids(daemon)
        if found and (daemon.ready is None or daemon.ready()):
            return found[0]
        if not found and (seen or time.monotonic() > appear_by):
            # The forked daemon hit a fatal error (bad config, port in use...): say so now.
            raise DevclusterError(
                f"{daemon.name} exited right after starting; "
                f"read {daemon.log_file}:\n{log_tail(daemon.log_file)}"
            )
        seen = seen or bool(found)
        time.sleep(0.5)
    raise DevclusterError(
        f"{daemon.name} did not come up within {timeout:.0f}s; "
        f"read {daemon.log_file}:\n{log_tail(daemon.log_file)}"
    )


def stop(daemon: Daemon, timeout: float = 30.0) -> bool:
    """Stop ``daemon`` with SIGTERM (SIGKILL after ``timeout``); return whether it ran."""
    running = pids(daemon)
    was_running = bool(running)
    for pid in running:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running and time.monotonic() < deadline:
        running = [pid for pid in running if _matches(daemon, pid)]
        time.sleep(0.2)
    for pid in running:
        _signal(pid, signal.SIGKILL)
    daemon.pid_file.unlink(missing_ok=True)
    return was_running


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
