"""Where the cluster in a box lives: names, ports and paths in one place.

Every other module imports these constants instead of repeating a path, so the
config templates, the process control and the status report cannot disagree
about where a pid file or a log is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CLUSTER_NAME = "onestop"

# Standard Slurm ports for the three standard daemons; the second compute node
# takes the next free one (6819 is slurmdbd's).
SLURMCTLD_PORT = 6817
SLURMDBD_PORT = 6819
MARIADB_PORT = 3306

SLURM_ETC = Path("/etc/slurm")
SLURM_CONF = SLURM_ETC / "slurm.conf"
SLURMDBD_CONF = SLURM_ETC / "slurmdbd.conf"
CGROUP_CONF = SLURM_ETC / "cgroup.conf"

STATE_DIR = Path("/var/lib/onestop-dev/slurm")
CTLD_STATE_DIR = STATE_DIR / "ctld"
LOG_DIR = Path("/var/log/onestop-dev")
RUN_DIR = Path("/run/onestop-dev/slurm")  # /run/onestop-dev is shared with other dev services

SLURMCTLD_LOG = LOG_DIR / "slurmctld.log"
SLURMDBD_LOG = LOG_DIR / "slurmdbd.log"
SLURMCTLD_PID = RUN_DIR / "slurmctld.pid"
SLURMDBD_PID = RUN_DIR / "slurmdbd.pid"

MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN_DIR = Path("/run/munge")
MUNGE_PID = MUNGE_RUN_DIR / "munged.pid"

MARIADB_RUN_DIR = Path("/run/mysqld")
ACCT_DB_NAME = "slurm_acct_db"
ACCT_DB_USER = "slurm"

SLURM_USER = "slurm"

# Slurm's PrologSlurmctld/EpilogSlurmctld: a script that appends one line per job
# start and end to a file every portal on the host follows (managers/hook_events.py).
HOOK_SCRIPT = SLURM_ETC / "onestop-hook"
HOOK_EVENTS_DIR = Path("/run/onestop-slurm")
HOOK_EVENTS = HOOK_EVENTS_DIR / "events"

# Each fake node claims the whole (2-core) machine; SlurmdParameters=config_overrides
# keeps a smaller machine from draining them, so jobs schedule the same way everywhere.
NODE_CPUS = 2
NODE_MEMORY_MB = 4000

# A clean environment for daemons, so they never inherit a caller's venv or test settings.
DAEMON_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class Node:
    """One fake compute node: a slurmd started with ``-N name`` on its own port."""

    name: str
    port: int

    @property
    def log_file(self) -> Path:
        return LOG_DIR / f"slurmd-{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return RUN_DIR / f"slurmd-{self.name}.pid"

    @property
    def spool_dir(self) -> Path:
        return STATE_DIR / f"slurmd-{self.name}"


NODES = (Node("node1", 6818), Node("node2", 6820))

# Slurm accounts and the Unix group whose members belong to each.
ACCOUNT_GROUPS = {"chem": "chem", "physics": "physics", "staff": "onestop-admins"}

PARTITIONS = (
    # name, MaxTime, Default
    ("debug", "01:00:00", True),
    ("long", "7-00:00:00", False),
    # Where the Data tool's large transfers run as jobs of their owners
    # (data.transfer_partition), so the login node stays responsive.
    ("transfer", "1-00:00:00", False),
)
