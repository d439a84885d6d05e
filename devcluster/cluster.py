"""The three actions: ``up``, ``down`` and ``status``.

``up`` is safe to repeat: each step checks first and only starts what is not
running, so a second call only reports.  It also recovers from daemons killed
with SIGKILL (stale pid files are recognised as stale by procs).  Config changes
restart only the daemons that read the changed file.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from pathlib import Path

from devcluster import accounting, layout, mariadb, munge, nodes, people, procs, render
from devcluster.errors import DevclusterError

SLURMDBD = procs.Daemon(
    "slurmdbd",
    ("/usr/sbin/slurmdbd",),
    layout.SLURMDBD_PID,
    layout.SLURMDBD_LOG,
    ready=accounting.slurmdbd_answers,
)
SLURMCTLD = procs.Daemon(
    "slurmctld",
    ("/usr/sbin/slurmctld",),
    layout.SLURMCTLD_PID,
    layout.SLURMCTLD_LOG,
    ready=nodes.controller_answers,
)
SLURMDS = tuple(
    procs.Daemon(
        node.name,
        ("/usr/sbin/slurmd", "-N", node.name),
        node.pid_file,
        node.log_file,
        node=node.name,
    )
    for node in layout.NODES
)

Report = Callable[[str], None]


def _say(line: str) -> None:
    print(line, flush=True)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise DevclusterError("run as root: the dev cluster writes /etc/slurm and starts daemons")


def _make_dirs() -> None:
    """State, log and pid directories; those slurmctld/slurmdbd write to belong to slurm."""
    slurm = pwd.getpwnam(layout.SLURM_USER)
    owned: list[tuple[Path, int, bool]] = [
        (layout.STATE_DIR, 0o755, False),
        (layout.CTLD_STATE_DIR, 0o700, True),
        (layout.LOG_DIR, 0o755, False),  # shared with other dev services
        (layout.RUN_DIR, 0o755, True),
        (layout.HOOK_EVENTS_DIR, 0o755, True),  # the hook (as slurm) writes, portals read
        *((node.spool_dir, 0o755, False) for node in layout.NODES),
    ]
    for path, mode, by_slurm in owned:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
        if by_slurm:
            os.chown(path, slurm.pw_uid, slurm.pw_gid)
    for log in (layout.SLURMCTLD_LOG, layout.SLURMDBD_LOG, layout.HOOK_EVENTS):
        procs.ensure_owned_file(log, layout.SLURM_USER)
    layout.HOOK_EVENTS.chmod(0o644)  # whatever slurmctld's umask: every portal reads it


def _ensure(daemon: procs.Daemon, say: Report, timeout: float = 60) -> None:
    running = procs.pids(daemon)
    if running:
        say(f"{daemon.name}: already running (pid {running[0]})")
        return
    pid = procs.start(daemon, timeout)
    say(f"{daemon.name}: started (pid {pid}, log {daemon.log_file})")


def up(say: Report = _say) -> None:
    """Bring the whole cluster in a box up, or report that it already is."""
    _require_root()
    say(people.ensure_people())
    _make_dirs()
    old_conf = layout.SLURM_CONF.read_text() if layout.SLURM_CONF.exists() else None
    changed = render.write_configs()
    if layout.SLURMDBD_CONF in changed and procs.stop(SLURMDBD):
        say("slurmdbd: stopped to pick up the new slurmdbd.conf")
    # A change slurmctld can take while running (the hooks, say) is applied with
    # ``scontrol reconfigure``; anything else restarts the daemons that read the file.
    reconfigure = (
        layout.SLURM_CONF in changed
        and bool(procs.pids(SLURMCTLD))
        and render.reconfigurable(old_conf, layout.SLURM_CONF.read_text())
    )
    if layout.SLURM_CONF in changed and not reconfigure:
        for daemon in (*SLURMDS, SLURMCTLD):
            if procs.stop(daemon):
                say(f"{daemon.name}: stopped to pick up the new slurm.conf")
    for path in sorted(changed):
        say(f"config: wrote {path}")
    if munge.ensure_key():
        say(f"munge: created {layout.MUNGE_KEY}")
    say(munge.ensure_running())
    say(mariadb.ensure_running())
    mariadb.ensure_accounting_database(render.storage_password())
    _ensure(SLURMDBD, say, timeout=120)
    for line in accounting.ensure_cluster():
        say(line)
    for line in accounting.ensure_accounts():
        say(line)
    _ensure(SLURMCTLD, say)
    if reconfigure:
        nodes.reconfigure()
        say("slurmctld: reconfigured for the new slurm.conf")
    for daemon in SLURMDS:
        _ensure(daemon, say)
    states = nodes.wait_usable()
    say("nodes: " + ", ".join(f"{name} {state}" for name, state in sorted(states.items())))
    say(f"cluster {layout.CLUSTER_NAME} is up; logs in {layout.LOG_DIR}")


def down(say: Report = _say) -> None:
    """Stop the Slurm daemons (munge and MariaDB stay: other things may use them)."""
    _require_root()
    for daemon in (*reversed(SLURMDS), SLURMCTLD, SLURMDBD):
        say(f"{daemon.name}: {'stopped' if procs.stop(daemon) else 'was not running'}")


def status(say: Report = _say) -> bool:
    """Print one line per component; return True only when everything runs."""
    lines: list[tuple[str, bool, str]] = [
        ("munge", munge.is_running(), ""),
        ("mariadb", mariadb.is_running(), ""),
    ]
    for daemon in (SLURMDBD, SLURMCTLD):
        found = procs.pids(daemon)
        lines.append((daemon.name, bool(found), f" (pid {found[0]})" if found else ""))
    states = nodes.states() if procs.pids(SLURMCTLD) else {}
    for daemon in SLURMDS:
        found = procs.pids(daemon)
        state = states.get(daemon.name, "state unknown")
        extra = f" (pid {found[0]})" if found else ""
        lines.append((daemon.name, bool(found), f"{extra}, {state}"))
    for name, running, extra in lines:
        say(f"{name:<10} {'running' if running else 'stopped'}{extra}")
    return all(running for _, running, _ in lines)
