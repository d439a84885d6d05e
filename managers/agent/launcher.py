"""The privileged launcher: the only code that runs as root, and it starts nothing
but an agent.

Run as ``onestop agent-launch NAME`` by root, or by the portal's service account
through a single sudo rule. Like Open OnDemand's nginx_stage it refuses names that
fail a pattern and accounts below a minimum uid. It binds the agent's socket in a
root-owned directory (so no user can replace it), lets only the calling service
account connect, then forks and drops to the user's uid, gid and groups for good.

The agent's environment is rebuilt from nothing, so what it must know of the site's
settings (its limits, and ``slurm.bin_dir`` for the Slurm commands it runs as the
person) goes on its command line, read from root's settings by this launcher.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import re
import resource
import socket
import stat
import sys
from pathlib import Path

from managers.agent.server import AgentServer, log
from managers.errors import OperationError
from managers.scheduler.slurm.commands import DEFAULT_BIN_DIR, check_bin_dir, set_agent_bin_dir


class LaunchRefused(OperationError):
    """The launcher will not start an agent for this name (said in plain words)."""


def login_umask(entry: pwd.struct_passwd) -> int:
    """The umask a login would give this person, as pam_umask computes it from
    /etc/login.defs: ``UMASK``, and with ``USERGROUPS_ENAB yes`` the group bits
    copied from the owner bits when the person has their own private group."""
    settings: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/etc/login.defs").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and not parts[0].startswith("#"):
                settings[parts[0]] = parts[1]
    try:
        umask = int(settings.get("UMASK", "022"), 8)
    except ValueError:
        umask = 0o022
    private_group = False
    with contextlib.suppress(KeyError):
        private_group = (
            entry.pw_uid == entry.pw_gid and grp.getgrgid(entry.pw_gid).gr_name == entry.pw_name
        )
    if settings.get("USERGROUPS_ENAB", "no").lower() == "yes" and private_group:
        umask = (umask & ~0o070) | ((umask & 0o700) >> 3)
    return umask


def clean_environment(entry: pwd.struct_passwd) -> dict[str, str]:
    """A fresh environment: nothing of the caller's (least of all root's) survives."""
    return {
        "HOME": entry.pw_dir,
        "USER": entry.pw_name,
        "LOGNAME": entry.pw_name,
        "SHELL": entry.pw_shell or "/bin/sh",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }


def drop_privileges(entry: pwd.struct_passwd) -> None:
    """Become the user for good (groups first, uid last), then prove root is gone."""
    os.initgroups(entry.pw_name, entry.pw_gid)
    os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
    os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SystemExit("refusing to run: root could be regained after dropping privileges")


def check_name(name: str, pattern: str, min_uid: int) -> pwd.struct_passwd:
    if not re.fullmatch(pattern, name):
        raise LaunchRefused(f"{name!r} is not an acceptable account name.", "bad-name")
    try:
        entry = pwd.getpwnam(name)
    except KeyError as error:
        raise LaunchRefused(f"There is no account {name!r}.", "no-account") from error
    if entry.pw_uid < min_uid:
        raise LaunchRefused(f"Agents are not started for system account {name!r}.", "system")
    return entry


def trusted_directory(path: str, mode: int) -> Path:
    """Create ``path`` if needed and make sure root alone controls it and every folder
    above it: root then works inside it without following anyone's symlinks."""
    folder = Path(path)
    if not folder.is_absolute():
        raise LaunchRefused(f"{path} must be an absolute path.", "unsafe-dir")
    folder.mkdir(mode=mode, parents=True, exist_ok=True)
    current = Path("/")
    for part in folder.parts[1:]:
        current = current / part
        info = os.lstat(current)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise LaunchRefused(f"{current} must be a real folder, not a link.", "unsafe-dir")
        writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky = info.st_mode & stat.S_ISVTX
        if info.st_uid != 0 or (writable_by_others and not (sticky and current != folder)):
            raise LaunchRefused(
                f"{current} must belong to root and be writable by root alone.", "unsafe-dir"
            )
    os.chmod(folder, mode)
    return folder


def socket_path(runtime_dir: str, name: str) -> Path:
    return Path(runtime_dir) / f"{name}.sock"


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def launch(
    name: str,
    *,
    runtime_dir: str,
    log_dir: str,
    min_uid: int,
    name_pattern: str,
    idle_seconds: float,
    nice: int,
    memory_limit_mb: int,
    heavy_limit: int,
    slurm_bin_dir: str = DEFAULT_BIN_DIR,
) -> int:
    """Start ``name``'s agent unless one answers already; returns its pid (0 if running).

    ``slurm_bin_dir`` is where the agent finds sbatch, scancel... (slurm.bin_dir).
    """
    try:
        check_bin_dir(slurm_bin_dir)
    except ValueError as error:
        raise LaunchRefused(str(error), "bad-setting") from error
    if os.geteuid() != 0:
        raise LaunchRefused(
            "The agent launcher must run as root (through its sudo rule).", "not-root"
        )
    entry = check_name(name, name_pattern, min_uid)
    service_uid = int(os.environ.get("SUDO_UID", os.getuid()))
    os.chdir("/")  # nothing of the caller's working directory may reach the exec
    runtime = trusted_directory(runtime_dir, 0o755)
    logs = trusted_directory(log_dir, 0o750)
    path = socket_path(runtime_dir, name)
    no_follow = os.O_NOFOLLOW | os.O_CLOEXEC
    lock_fd = os.open(runtime / f"{name}.lock", os.O_RDWR | os.O_CREAT | no_follow, 0o600)
    with os.fdopen(lock_fd, "r+") as lock:  # one launch per person at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(path):
            return 0
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        # The folder is root's and no one else can write to it, so nobody can swap
        # the socket for a link between bind and here; no-follow all the same.
        os.chown(path, service_uid, 0, follow_symlinks=False)
        os.chmod(path, 0o600)
        listener.listen(64)
        log_fd = os.open(
            logs / f"{name}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | no_follow, 0o640
        )
        if not stat.S_ISREG(os.fstat(log_fd).st_mode):
            raise LaunchRefused(f"The agent log of {name} is not a plain file.", "unsafe-log")
        pid = os.fork()
        if pid:
            listener.close()
            os.close(log_fd)
            os.waitpid(pid, 0)  # the first child exits at once; the agent is its child
            return pid
    _become_agent(
        entry,
        listener,
        log_fd,
        service_uid,
        idle_seconds,
        nice,
        memory_limit_mb,
        heavy_limit,
        slurm_bin_dir,
    )
    raise AssertionError("unreachable")


def _become_agent(
    entry: pwd.struct_passwd,
    listener: socket.socket,
    log_fd: int,
    service_uid: int,
    idle_seconds: float,
    nice: int,
    memory_limit_mb: int,
    heavy_limit: int,
    slurm_bin_dir: str,
) -> None:
    """In the forked child: detach, then exec a fresh interpreter with a clean
    environment (still root, so it can read the code wherever it is installed);
    ``managers.agent.boot`` then drops root and serves. Never returns."""
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(devnull)
        os.close(log_fd)
        # Only the listening socket may cross the exec: whatever else the caller
        # left open (an event loop's socket pairs, say) would otherwise live on in
        # the agent, and keep the caller waiting for an end of file that never comes.
        keep = listener.fileno()
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        os.closerange(3, keep)
        os.closerange(keep + 1, limit if limit != resource.RLIM_INFINITY else 65536)
        listener.set_inheritable(True)
        argv = [
            sys.executable,
            "-I",  # isolated: no current folder, PYTHON* variables or user site on the path
            "-m",
            "managers.agent.boot",
            entry.pw_name,
            str(listener.fileno()),
            str(service_uid),
            str(idle_seconds),
            str(nice),
            str(memory_limit_mb),
            str(heavy_limit),
            slurm_bin_dir,
        ]
        os.execve(sys.executable, argv, clean_environment(entry))  # noqa: S606 - argv, no shell
    except BaseException as error:
        log.error("agent.crashed", agent_uid=os.getuid(), error=repr(error))
    os._exit(1)


def become_user_and_serve(argv: list[str]) -> None:
    """The agent process proper (see ``boot``): limits, drop root, serve."""
    name, fd, service_uid, idle, nice, memory_limit_mb, heavy_limit, slurm_bin_dir = argv
    set_agent_bin_dir(slurm_bin_dir)  # every Slurm command it runs comes from there
    entry = pwd.getpwnam(name)
    listener = socket.socket(fileno=int(fd))
    limit = int(memory_limit_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.nice(int(nice))
    drop_privileges(entry)
    os.chdir(entry.pw_dir)
    os.umask(login_umask(entry))
    AgentServer(listener, int(service_uid), float(idle), int(heavy_limit)).serve_forever()
