"""Node states as Slurm reports them, and waiting for the nodes to be usable."""

from __future__ import annotations

import subprocess
import time

from devcluster import layout
from devcluster.errors import DevclusterError, log_tail

# Base states in which a node cannot run jobs even when an admin has not drained it.
_UNUSABLE = {"down", "unknown", "not_responding", "fail", "future", "inval"}


def _run(*command: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=15, check=False, env=layout.DAEMON_ENV
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def controller_answers() -> bool:
    """True when slurmctld answers ``scontrol ping``."""
    result = _run("scontrol", "ping")
    return result is not None and result.returncode == 0


def reconfigure() -> None:
    """``scontrol reconfigure``: slurmctld (and the nodes) re-read slurm.conf."""
    result = _run("scontrol", "reconfigure")
    if result is None or result.returncode != 0:
        detail = result.stderr.strip() if result is not None else "no answer"
        raise DevclusterError(f"scontrol reconfigure failed: {detail}")


def states() -> dict[str, str]:
    """Node name -> long state from sinfo (e.g. ``idle``, ``mixed``, ``idle*``); empty if
    slurmctld does not answer."""
    result = _run("sinfo", "-h", "-N", "-o", "%N|%T")
    if result is None or result.returncode != 0:
        return {}
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, _, state = line.partition("|")
        found[name.strip()] = state.strip()
    return found


def usable(state: str) -> bool:
    """Responding and not down: idle, mixed, allocated, or drained by an admin."""
    if not state or state.endswith("*"):
        return False
    base = state.rstrip("~#!%$@^-+").split("+")[0]
    return base not in _UNUSABLE


def wait_usable(timeout: float = 90.0) -> dict[str, str]:
    """Wait until every node is registered and usable; return their states."""
    deadline = time.monotonic() + timeout
    current: dict[str, str] = {}
    while time.monotonic() < deadline:
        current = states()
        if all(usable(current.get(node.name, "")) for node in layout.NODES):
            return current
        time.sleep(1)
    bad = [node for node in layout.NODES if not usable(current.get(node.name, ""))]
    details = "\n".join(
        f"  {node.name}: {current.get(node.name, 'not reported')}; read {node.log_file}:\n"
        f"{log_tail(node.log_file, 6)}"
        for node in bad
    )
    raise DevclusterError(
        f"nodes not usable after {timeout:.0f}s (see also {layout.SLURMCTLD_LOG}):\n{details}"
    )
