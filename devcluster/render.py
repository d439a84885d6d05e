"""Renders the Slurm config files from the templates in ``templates/``.

A file is rewritten only when its text changes, and the caller learns which
files changed so it can restart just the daemons that read them.  A config file
that devcluster did not write (no marker line) is never overwritten: on a machine
with a real Slurm setup, clobbering /etc/slurm would be a nasty surprise.
"""

from __future__ import annotations

import os
import pwd
import secrets
import socket
from importlib import resources
from pathlib import Path
from string import Template

from devcluster import layout
from devcluster.errors import DevclusterError

MARKER = "# Written by devcluster"


class ForeignConfigError(DevclusterError):
    """A config file exists that devcluster did not write."""


def _template(name: str) -> Template:
    text = resources.files("devcluster").joinpath("templates").joinpath(name).read_text()
    return Template(text)


def controller_host() -> str:
    """The short hostname; slurmctld only starts where SlurmctldHost names this machine."""
    return socket.gethostname().split(".")[0]


def _node_lines() -> str:
    host = controller_host()
    return "\n".join(
        f"NodeName={node.name} NodeHostname={host} NodeAddr=127.0.0.1 Port={node.port} "
        f"CPUs={layout.NODE_CPUS} RealMemory={layout.NODE_MEMORY_MB} State=UNKNOWN"
        for node in layout.NODES
    )


def _partition_lines() -> str:
    nodes = ",".join(node.name for node in layout.NODES)
    return "\n".join(
        f"PartitionName={name} Nodes={nodes} MaxTime={max_time} "
        f"Default={'YES' if default else 'NO'} State=UP"
        for name, max_time, default in layout.PARTITIONS
    )


def slurm_conf_text() -> str:
    return _template("slurm.conf").substitute(
        cluster=layout.CLUSTER_NAME,
        controller_host=controller_host(),
        ctld_port=layout.SLURMCTLD_PORT,
        dbd_port=layout.SLURMDBD_PORT,
        ctld_state_dir=layout.CTLD_STATE_DIR,
        state_dir=layout.STATE_DIR,
        run_dir=layout.RUN_DIR,
        log_dir=layout.LOG_DIR,
        hook_script=layout.HOOK_SCRIPT,
        node_lines=_node_lines(),
        partition_lines=_partition_lines(),
    )


# Settings that ``scontrol reconfigure`` applies without restarting any daemon.
# A new partition is one too (the Data tool's ``transfer``): jobs running elsewhere
# stay as they are.
RECONFIGURABLE = frozenset(
    {
        "PrologSlurmctld",
        "EpilogSlurmctld",
        "MinJobAge",
        "MailProg",
        "PartitionName",
        # Read by each job's slurmstepd as it starts: running jobs keep the old value.
        "JobAcctGatherParams",
    }
)


def reconfigurable(old: str | None, new: str) -> bool:
    """Whether slurm.conf changed from ``old`` to ``new`` only in RECONFIGURABLE
    settings (and comments), so a reconfigure is enough and running jobs and
    daemons are left alone."""
    if old is None:
        return False

    def settings(text: str) -> set[str]:
        return {
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        }

    differing = settings(old) ^ settings(new)
    return all(line.partition("=")[0] in RECONFIGURABLE for line in differing)


def storage_password() -> str:
    """The slurmdbd database password: generated on first use, then read back from the file."""
    if layout.SLURMDBD_CONF.exists():
        for line in layout.SLURMDBD_CONF.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "StoragePass" and value.strip():
                return value.strip()
    # Hex only: safe unquoted in slurmdbd.conf and inside an SQL string literal.
    return secrets.token_hex(24)


def slurmdbd_conf_text(password: str) -> str:
    return _template("slurmdbd.conf").substitute(
        dbd_port=layout.SLURMDBD_PORT,
        log_dir=layout.LOG_DIR,
        run_dir=layout.RUN_DIR,
        mariadb_port=layout.MARIADB_PORT,
        db_name=layout.ACCT_DB_NAME,
        db_user=layout.ACCT_DB_USER,
        db_pass=password,
    )


def write_if_changed(path: Path, text: str, mode: int, owner: str = "root") -> bool:
    """Write ``text`` to ``path`` atomically if it differs; return whether it changed."""
    old = path.read_text() if path.exists() else None
    # The marker opens the file, or follows a script's "#!" line.
    if old is not None and not any(line.startswith(MARKER) for line in old.splitlines()[:2]):
        raise ForeignConfigError(
            f"{path} exists and was not written by devcluster; move it away to use the dev cluster"
        )
    entry = pwd.getpwnam(owner)
    changed = old != text
    if changed:
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(path, mode)
    return changed


def write_configs() -> set[Path]:
    """Write slurm.conf and slurmdbd.conf; return the paths whose content changed."""
    layout.SLURM_ETC.mkdir(parents=True, exist_ok=True)
    changed: set[Path] = set()
    # The hook first: slurm.conf names it, and a missing PrologSlurmctld holds jobs.
    hook = _template("onestop-hook").template
    if write_if_changed(layout.HOOK_SCRIPT, hook, 0o755):
        changed.add(layout.HOOK_SCRIPT)
    if write_if_changed(layout.SLURM_CONF, slurm_conf_text(), 0o644):
        changed.add(layout.SLURM_CONF)
    dbd_text = slurmdbd_conf_text(storage_password())
    if write_if_changed(layout.SLURMDBD_CONF, dbd_text, 0o600, owner=layout.SLURM_USER):
        changed.add(layout.SLURMDBD_CONF)
    return changed
