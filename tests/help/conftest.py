"""A portal of the help tests' own (HELP_PORT, beside the session's): carol holds
the staff role as an administrator would have granted it (a ``granted`` row, which
sign-ins leave alone), and the site keeps two canned answers."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ONESTOP, TEST_PORT, Portal, portal_env

# Not TEST_PORT: the session's own portal may be running there.
HELP_PORT = TEST_PORT + 5

CANNED = [
    {"title": "Ask for more memory", "text": "Ask for more memory, for example `--mem=8G`."},
    {"title": "Check the path", "text": "Check that the input file's path is right."},
]


@pytest.fixture(scope="module")
def help_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with started(tmp_path_factory.mktemp("help-portal")) as portal:
        yield portal


@contextlib.contextmanager
def started(workdir: Path, port: int = HELP_PORT, **extra: str) -> Iterator[Portal]:
    """The help tests' portal in ``workdir`` on ``port`` (a second one beside the
    module's needs one of its own), with ``extra`` ONESTOP_* settings."""
    database_url = f"sqlite:///{workdir}/onestop.db"
    env = portal_env(database_url, port, ONESTOP_HELP__CANNED_ANSWERS=json.dumps(CANNED), **extra)
    subprocess.run([ONESTOP, "db", "upgrade"], check=True, env=env, capture_output=True)
    with sqlite3.connect(workdir / "onestop.db") as db:
        db.execute(
            "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES ('g', 'carol', 'staff', '*', 'granted')"
        )
    portal = Portal(f"http://127.0.0.1:{port}", database_url, workdir / "portal.log", env)
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()


def csrf_of(client: httpx.Client, portal: Portal) -> str:
    page = client.get(portal.url + "/")
    return page.text.split('name="csrf-token" content="')[1].split('"')[0]
