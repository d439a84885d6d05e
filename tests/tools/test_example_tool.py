"""The README's "Adding a tool" example, installed the way the README says and used
through a real portal: so the instructions cannot rot.

The example package (examples/hello_tool) is installed into the portal's own
environment for this module only and removed afterwards, so no other test (and no
later `make dev`) sees it.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_PORT, Portal, running_portal
from tests.helpers import new_client, sign_in, wait_until

EXAMPLE = REPO / "examples" / "hello_tool"
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]


def readme_blocks() -> dict[str, str]:
    """The README's "Adding a tool" code blocks that name a file of the example."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Adding a tool", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    blocks = re.findall(r"`(examples/hello_tool/[^`]+)`:\n\n```[a-z]*\n(.*?)```", section, re.S)
    return dict(blocks)


def test_the_readme_shows_the_example_as_it_is() -> None:
    blocks = readme_blocks()
    assert {
        "examples/hello_tool/pyproject.toml",
        "examples/hello_tool/onestop_hello/__init__.py",
        "examples/hello_tool/onestop_hello/templates/hello/card.html",
    } <= set(blocks)
    for path, shown in blocks.items():
        assert (REPO / path).read_text() == shown, f"README's copy of {path} is out of date"


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    # The README's command, without fetching anything: the portal is already there.
    subprocess.run(
        [*PIP, "install", "--no-deps", "--no-build-isolation", "-e", str(EXAMPLE)], check=True
    )
    try:
        yield
    finally:
        subprocess.run([*PIP, "uninstall", "--yes", "onestop-hello"], check=True)


@pytest.fixture
def portal(installed: None, cluster: None, idp: str, tmp_path: Path) -> Iterator[Portal]:
    with running_portal(tmp_path, TEST_PORT + 10) as running:
        yield running


def audit_rows(portal: Portal, action: str) -> list[tuple[str, str, str]]:
    """The audit rows of ``action`` once there are any (the auditor writes in batches)."""
    path = portal.database_url.removeprefix("sqlite:///")

    def rows() -> list[tuple[str, str, str]]:
        with sqlite3.connect(path) as db:
            return db.execute(
                "SELECT actor, object, outcome FROM audit_events WHERE action = ?", (action,)
            ).fetchall()

    return wait_until(rows, 10)


def test_an_installed_tool_has_its_page_link_card_verb_and_rule(portal: Portal) -> None:
    with new_client() as client:
        sign_in(client, portal.url, "alice")
        page = client.get(portal.url + "/hello")
        assert page.status_code == 200
        assert "Hello, Alice" in page.text
        assert "computers right now" in page.text  # it used the portal's cluster.snapshot
        dashboard = client.get(portal.url + "/")
        assert '<a href="/hello"' in dashboard.text  # in the navigation bar
        assert 'id="hello-card"' in dashboard.text
        # Cards follow the tools' order: jobs (10), files (20), hello (50).
        assert dashboard.text.index('id="my-jobs"') < dashboard.text.index('id="hello-card"')
        assert dashboard.text.index('id="storage-card"') < dashboard.text.index('id="hello-card"')
        named = client.get(portal.url + "/hello", params={"name": "Ada"})
        assert "Hello, Ada!" in named.text
        # Bad input is refused by the gate in plain words, not a traceback.
        bad = client.get(portal.url + "/hello", params={"name": "<script>"})
        assert bad.status_code == 400
        assert "<script>" not in bad.text and "Traceback" not in bad.text
    assert ("alice", "greeting:alice", "ok") in audit_rows(portal, "hello.greet")
    with sqlite3.connect(portal.database_url.removeprefix("sqlite:///")) as db:
        rules = db.execute("SELECT v0, v1, v2, v3 FROM casbin_rule WHERE ptype = 'p'").fetchall()
    assert ("user", "*", "greeting:{sub}", "read") in rules


def test_a_disabled_tool_is_not_loaded(
    installed: None, cluster: None, idp: str, tmp_path: Path
) -> None:
    with running_portal(
        tmp_path, TEST_PORT + 10, ONESTOP_DISABLED_TOOLS='["hello", "notebooks"]'
    ) as portal:
        with new_client() as client:
            sign_in(client, portal.url, "alice")
            assert client.get(portal.url + "/hello").status_code == 404
            dashboard = client.get(portal.url + "/").text
            assert 'href="/hello"' not in dashboard
            assert 'href="/notebooks"' not in dashboard
            # Leaving out the notebooks tool takes its pages and its proxy with it.
            assert client.get(portal.url + "/notebooks").status_code == 404
            assert client.get(portal.url + "/notebooks/0123456789abcdef/lab").status_code == 404
            assert client.get(portal.url + "/jobs").status_code == 200
