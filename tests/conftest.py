"""Fixtures that start the real parts: the demo cluster, the identity provider, a portal.

Nothing here pretends to be Slurm, the identity provider or the browser. The portal
under test runs as its own process on port 8001 with a fresh SQLite database, so the
portal of `make dev` on port 8000 is never disturbed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
import pytest

from tests.helpers import wait_until

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ONESTOP = str(VENV_BIN / "onestop")
# Several checkouts (or helpers) can run the suite side by side on other ports; the
# identity provider accepts 8001-8019 (idp/config.mjs); a test that needs a second
# portal uses TEST_PORT + 10.
TEST_PORT = int(os.environ.get("TEST_PORTAL_PORT", "8001"))
IDP_ISSUER = "http://127.0.0.1:9000"
IDP_STATE_DIR = Path(os.environ.get("IDP_STATE_DIR", "/var/lib/onestop-dev/idp"))


@dataclass
class Portal:
    """A portal process started by ``running_portal``; ``process`` is the one running."""

    url: str
    database_url: str
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """The portal dies without any chance to clean up (SIGKILL), as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def start(self) -> None:
        """``onestop serve`` again, on the same port, database and log; returns once
        it answers (the one way every test starts a portal again)."""
        assert self.process is None, "the portal still runs: kill() it first"
        self.process = start_portal_process(self.env, self.log)

    def restart(self) -> None:
        """Killed mid-work and started again, as after a crash of the login node."""
        self.kill()
        self.start()

    def stop(self) -> None:
        """Asked to stop (SIGTERM), killed if it has not within 10 s."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


def portal_env(database_url: str, port: int = TEST_PORT, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")}
    env.update(
        ONESTOP_CONFIG="/nonexistent/onestop.toml",
        ONESTOP_DATABASE_URL=database_url,
        ONESTOP_PUBLIC_URL=f"http://127.0.0.1:{port}",
        ONESTOP_BIND_PORT=str(port),
        ONESTOP_OIDC__ISSUER=IDP_ISSUER,
        ONESTOP_LOGIN_ATTEMPTS_PER_MINUTE="1000",
        # Provider and portal share this machine's clock; a small tolerance lets the
        # tests show a stale auth_time after seconds instead of minutes.
        ONESTOP_OIDC__CLOCK_SKEW_SECONDS="1",
        ONESTOP_LOG_JSON="true",
        # The demo cluster's PrologSlurmctld/EpilogSlurmctld hook (devcluster): job
        # starts and ends reach the portal at once.
        ONESTOP_SLURM__HOOK_EVENTS="/run/onestop-slurm/events",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def cluster() -> None:
    """The demo Slurm cluster, started by the project's own command (a no-op if up)."""
    subprocess.run([ONESTOP, "devcluster", "up"], check=True, cwd=REPO)


@pytest.fixture(scope="session")
def idp() -> str:
    subprocess.run(["bash", str(REPO / "scripts/idp.sh"), "start"], check=True)
    return IDP_ISSUER


@contextlib.contextmanager
def running_portal(workdir: Path, port: int = TEST_PORT, **extra_env: str) -> Iterator[Portal]:
    """A portal process on ``port`` with its database in ``workdir`` (created and
    upgraded if new), stopped on exit. ``extra_env`` adds ONESTOP_* settings."""
    database_url = f"sqlite:///{workdir}/onestop.db"
    env = portal_env(database_url, port, **extra_env)
    subprocess.run([ONESTOP, "db", "upgrade"], check=True, env=env, capture_output=True)
    portal = Portal(f"http://127.0.0.1:{port}", database_url, workdir / "portal.log", env)
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()


@contextlib.contextmanager
def portal_with_own_agents(
    workdir: Path, port: int = TEST_PORT, **extra_env: str
) -> Iterator[Portal]:
    """``running_portal`` whose agents are its own (a fresh runtime folder), so they run
    the code under test rather than an older agent still serving the main portal;
    they are stopped with it."""
    from tests.agents.conftest import stop_agents

    base = Path("/run/onestop-test") / uuid.uuid4().hex[:8]
    try:
        with running_portal(
            workdir,
            port,
            ONESTOP_AGENTS__RUNTIME_DIR=str(base / "agents"),
            ONESTOP_AGENTS__LOG_DIR=str(base / "logs"),
            **extra_env,
        ) as portal:
            yield portal
    finally:
        stop_agents(base / "agents")
        shutil.rmtree(base, ignore_errors=True)


def port_taken(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:``port``."""
    with contextlib.closing(socket.socket()) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_portal_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``onestop serve`` with ``env``, its output appended to ``log``; returns once it
    answers /healthz (raises with the log's end if it does not within 30 s)."""
    url = env["ONESTOP_PUBLIC_URL"]
    port = int(env["ONESTOP_BIND_PORT"])
    # Another portal still on this port would answer /healthz for this one, and every
    # test after would talk to the wrong portal: say so instead.
    try:
        wait_until(lambda: not port_taken(port), 15)
    except AssertionError:
        raise RuntimeError(f"port {port} is taken (another test's portal?)") from None
    with log.open("ab") as out:
        process = subprocess.Popen(
            [ONESTOP, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
        )

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError("it exited")
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 30)
    except BaseException as error:
        process.kill()
        process.wait(10)
        if isinstance(error, AssertionError):  # it exited, or did not answer in time
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"the portal did not start ({error}):\n{tail}") from None
        raise
    return process


@pytest.fixture(scope="session")
def portal(cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with running_portal(tmp_path_factory.mktemp("portal")) as started:
        yield started


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty database on the PostgreSQL server, dropped afterwards."""
    name = f"onestop_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(POSTGRES_ADMIN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/onestop.db"


def scontrol(*args: str) -> None:
    subprocess.run(["scontrol", *args], check=True, capture_output=True)


def node_state(name: str) -> str:
    return subprocess.run(
        ["sinfo", "--noheader", "--node", name, "--format", "%T"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def node2_resumed(cluster: None) -> Iterator[None]:
    """Leave node2 in service (and answering) after a test that drains it."""
    yield
    if "drain" in node_state("node2"):
        scontrol("update", "nodename=node2", "state=resume")
    wait_until(lambda: node_state("node2") in ("idle", "mixed", "allocated"), 15, 0.3)
