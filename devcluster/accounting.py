"""Slurm accounting: the cluster, the project accounts and their users.

Registration goes through ``sacctmgr -i`` against slurmdbd.  Each step first
asks what already exists, so a second ``up`` adds nothing and prints nothing
alarming.  With AccountingStorageEnforce=associations, a user without an
association here cannot submit, so this is also what lets alice run jobs.
"""

from __future__ import annotations

import subprocess

from devcluster import layout, people
from devcluster.errors import DevclusterError

SACCTMGR_TIMEOUT = 30.0


def _sacctmgr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sacctmgr", *args],
        capture_output=True,
        text=True,
        timeout=SACCTMGR_TIMEOUT,
        check=False,
        env=layout.DAEMON_ENV,
    )


def _query(*args: str) -> list[list[str]]:
    result = _sacctmgr("-n", "-P", "show", *args)
    if result.returncode != 0:
        raise DevclusterError(f"sacctmgr show {' '.join(args)} failed: {result.stderr.strip()}")
    return [line.split("|") for line in result.stdout.splitlines() if line.strip()]


def _add(*args: str) -> None:
    result = _sacctmgr("-i", "add", *args)
    if result.returncode != 0:
        raise DevclusterError(
            f"sacctmgr add {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}"
        )


def slurmdbd_answers() -> bool:
    """True when slurmdbd serves sacctmgr (its first start creates the tables first)."""
    try:
        result = _sacctmgr("-n", "-P", "show", "cluster", "format=cluster")
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def ensure_cluster() -> list[str]:
    """Register the cluster (before slurmctld starts, so it registers cleanly)."""
    clusters = {row[0] for row in _query("cluster", "format=cluster")}
    if layout.CLUSTER_NAME in clusters:
        return []
    _add("cluster", layout.CLUSTER_NAME)
    return [f"accounting: added cluster {layout.CLUSTER_NAME}"]


def ensure_accounts() -> list[str]:
    """Give each project account its Unix group's members as users."""
    done: list[str] = []
    accounts = {row[0] for row in _query("account", "format=account")}
    assocs = {
        (row[0], row[1])
        for row in _query("assoc", f"cluster={layout.CLUSTER_NAME}", "format=account,user")
    }
    for account, group in layout.ACCOUNT_GROUPS.items():
        if account not in accounts:
            _add(
                "account",
                account,
                f"cluster={layout.CLUSTER_NAME}",
                f"Description=Unix group {group}",
                "Organization=onestop",
            )
            done.append(f"accounting: added account {account}")
        for user in people.members(group):
            if (account, user) not in assocs:
                _add("user", user, f"account={account}", f"cluster={layout.CLUSTER_NAME}")
                done.append(f"accounting: added user {user} to account {account}")
    return done
