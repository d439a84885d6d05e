"""MariaDB, the database behind slurmdbd.

The server is started the way the brief for this machine says (there is no
systemd), and slurmdbd gets its own database and a dedicated ``slurm`` account
for both ``localhost`` (socket) and ``127.0.0.1`` (TCP, which matters when the
server runs with skip-name-resolve).  The password comes from slurmdbd.conf so
the two always agree.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

from devcluster import layout, procs
from devcluster.errors import DevclusterError, log_tail

MARIADB_LOG = Path("/var/log/mysql/error.log")
_CLIENT_ATTEMPTS = (
    # As root over the socket: unix_socket authentication on a stock Debian install.
    ("mariadb", "--protocol=socket", "-u", "root"),
    # root with an empty password over TCP, as on machines set up that way.
    ("mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-P", str(layout.MARIADB_PORT), "-u", "root"),
)


def is_running() -> bool:
    return procs.port_open(layout.MARIADB_PORT)


def ensure_running(timeout: float = 60.0) -> str:
    """Start mariadbd in the background unless its port already answers."""
    if is_running():
        return "mariadb: already running"
    entry = pwd.getpwnam("mysql")
    layout.MARIADB_RUN_DIR.mkdir(parents=True, exist_ok=True)
    os.chown(layout.MARIADB_RUN_DIR, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        [
            "start-stop-daemon", "--start", "--oknodo", "--background",
            "--exec", "/usr/sbin/mariadbd", "--", "--user=mysql",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=layout.DAEMON_ENV,
        cwd="/",
        check=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running():
            return "mariadb: started"
        time.sleep(0.5)
    raise DevclusterError(
        f"MariaDB did not answer on port {layout.MARIADB_PORT} within {timeout:.0f}s; "
        f"read {MARIADB_LOG}:\n{log_tail(MARIADB_LOG)}"
    )


def _root_client() -> tuple[str, ...]:
    for command in _CLIENT_ATTEMPTS:
        probe = subprocess.run(
            [*command, "-e", "SELECT 1"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return command
    raise DevclusterError(
        "cannot log in to MariaDB as root (tried the socket and 127.0.0.1 without a password)"
    )


def ensure_accounting_database(password: str) -> None:
    """Create slurmdbd's database and user, and set the user's password to ``password``."""
    db, user = layout.ACCT_DB_NAME, layout.ACCT_DB_USER
    statements = [f"CREATE DATABASE IF NOT EXISTS `{db}`;"]
    for host in ("localhost", "127.0.0.1"):
        account = f"'{user}'@'{host}'"
        statements += [
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}';",
            f"ALTER USER {account} IDENTIFIED BY '{password}';",
            f"GRANT ALL PRIVILEGES ON `{db}`.* TO {account};",
        ]
    # The password goes through stdin, never the command line other users can read.
    result = subprocess.run(
        list(_root_client()),
        input="\n".join(statements),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise DevclusterError(f"setting up the accounting database failed: {result.stderr.strip()}")
