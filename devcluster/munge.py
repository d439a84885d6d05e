"""Munge, the authentication every Slurm daemon and command relies on.

A missing key is created once (``mungekey``, or ``create-munge-key`` on older
munge); munged runs as the ``munge`` user, as Debian's service would run it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from devcluster import layout, procs
from devcluster.errors import DevclusterError, log_tail

MUNGED_LOG = Path("/var/log/munge/munged.log")
MUNGE_SOCKET = layout.MUNGE_RUN_DIR / "munge.socket.2"


def munged(force: bool = False) -> procs.Daemon:
    argv = ("/usr/sbin/munged", "--force") if force else ("/usr/sbin/munged",)
    return procs.Daemon("munge", argv, layout.MUNGE_PID, MUNGED_LOG, user="munge")


def ensure_key() -> bool:
    """Create /etc/munge/munge.key if missing; return whether it was created."""
    if layout.MUNGE_KEY.exists():
        return False
    layout.MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("mungekey"):
        command = ["mungekey", "--create", f"--keyfile={layout.MUNGE_KEY}"]
    else:
        command = ["create-munge-key", "-f"]
    subprocess.run(command, check=True, capture_output=True)
    entry = pwd.getpwnam("munge")
    os.chown(layout.MUNGE_KEY, entry.pw_uid, entry.pw_gid)
    os.chmod(layout.MUNGE_KEY, 0o600)
    return True


def works() -> bool:
    """True when a credential can be encoded and decoded, i.e. munged answers."""
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10, check=False)
        if cred.returncode != 0:
            return False
        check = subprocess.run(
            ["unmunge"], input=cred.stdout, capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return check.returncode == 0


def is_running() -> bool:
    return bool(procs.pids(munged())) and works()


def ensure_running() -> str:
    """Start munged unless it already answers; return a one-line report."""
    if works():
        return "munge: already running"
    if procs.pids(munged()):
        raise DevclusterError(f"munged runs but does not answer; read {MUNGED_LOG}")
    entry = pwd.getpwnam("munge")
    for directory in (layout.MUNGE_RUN_DIR, MUNGED_LOG.parent):
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    layout.MUNGE_RUN_DIR.chmod(0o755)
    # A socket left behind by a killed munged makes a plain start refuse to run.
    procs.start(munged(force=MUNGE_SOCKET.exists()), timeout=20)
    if not works():
        raise DevclusterError(
            f"munged started but `munge -n | unmunge` fails; read {MUNGED_LOG}:\n"
            f"{log_tail(MUNGED_LOG)}"
        )
    return "munge: started"
