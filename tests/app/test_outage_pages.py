"""An outage is never "not found": with her agent unable to start, or Slurm not
answering, her job's and her notebook session's pages say the cluster side is not
answering right now and offer to try again.

Nothing is stood in for: the same portal (its database, her signed-in session) is
started again with its agents' runtime folder one the real launcher refuses (not
root's), then with ``slurm.bin_dir`` a folder without Slurm's commands.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PORT, Portal, portal_with_own_agents
from tests.helpers import FORM_TOKENS, job_form, new_client, post_job, sign_in
from tests.notebooks.conftest import end_session

UNAVAILABLE = "The cluster is not answering right now"
SENTENCE = "(your personal helper process, or the scheduler) is not answering right now"


@pytest.fixture(scope="module")
def outage_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with portal_with_own_agents(tmp_path_factory.mktemp("outages"), TEST_PORT + 10) as portal:
        yield portal


@dataclass
class Hers:
    client: httpx.Client
    job: str
    session: str


@pytest.fixture(scope="module")
def hers(outage_portal: Portal) -> Iterator[Hers]:
    """Alice signed in, with a job in the queue and a notebook session, made while
    everything answers."""
    url = outage_portal.url
    with new_client() as client:
        assert sign_in(client, url, "alice").status_code == 303
        job = post_job(client, url, job_form(client, url, "#!/bin/bash\necho here\nsleep 300\n"))
        tokens = dict(FORM_TOKENS.findall(client.get(f"{url}/notebooks").text))
        started = client.post(
            f"{url}/notebooks", data={**tokens, "label": "outage test", "hours": "0.25"}
        )
        assert started.status_code == 303, started.text[:2000]
        session = started.headers["location"].rsplit("/", 1)[-1]
        try:
            yield Hers(client, job, session)
        finally:
            subprocess.run(["scancel", job], check=False)
            end_session(session)


@contextlib.contextmanager
def started_again(portal: Portal, **env: str) -> Iterator[None]:
    """The same portal started again with ``env`` over its settings; as it was after."""
    saved = dict(portal.env)
    portal.stop()
    portal.env.update(env)
    try:
        portal.start()
        yield
    finally:
        portal.stop()
        portal.env.clear()
        portal.env.update(saved)
        portal.start()


@pytest.fixture
def refused_runtime_dir(tmp_path: Path) -> Path:
    """A runtime folder the launcher will not start agents in: it is alice's, not root's."""
    folder = tmp_path / "agents"
    folder.mkdir(mode=0o755)
    alice = pwd.getpwnam("alice")
    os.chown(folder, alice.pw_uid, alice.pw_gid)
    return folder


def try_again_to(page: str, address: str) -> bool:
    return re.search(rf'<a href="{re.escape(address)}"[^>]*>Try again</a>', page) is not None


def test_her_agent_not_starting_is_said_on_her_pages(
    outage_portal: Portal, hers: Hers, refused_runtime_dir: Path
) -> None:
    url, alice = outage_portal.url, hers.client
    session_page = f"/notebooks/sessions/{hers.session}"
    with started_again(outage_portal, ONESTOP_AGENTS__RUNTIME_DIR=str(refused_runtime_dir)):
        # The job is known (the cluster's reading); its output, read by her agent, is not.
        page = alice.get(f"{url}/jobs/{hers.job}")
        assert page.status_code == 200, page.text[:2000]
        assert f"Job {hers.job}" in page.text
        assert UNAVAILABLE in page.text and SENTENCE in page.text
        assert "could not be started" in page.text, "her helper process's own words"
        assert try_again_to(page.text, f"/jobs/{hers.job}")
        assert "No such job" not in page.text and "No output yet" not in page.text
        output = alice.get(f"{url}/jobs/{hers.job}/output", headers={"hx-request": "true"})
        assert output.status_code == 200 and UNAVAILABLE in output.text

        # Her session is shown; stopping it needs her agent, and says so.
        shown = alice.get(url + session_page)
        assert shown.status_code == 200 and "outage test" in shown.text
        assert "No such notebook session" not in shown.text
        tokens = dict(FORM_TOKENS.findall(shown.text))
        stopped = alice.post(
            f"{url}{session_page}/stop",
            data={"csrf_token": tokens["csrf_token"]},
            headers={"referer": url + session_page},
        )
        assert stopped.status_code == 503, stopped.text[:2000]
        assert UNAVAILABLE in stopped.text and SENTENCE in stopped.text
        assert "could not be started" in stopped.text
        assert try_again_to(stopped.text, session_page)
        assert "No such" not in stopped.text

        # A new session cannot start either: said the same way, nothing half-made.
        tokens = dict(FORM_TOKENS.findall(alice.get(f"{url}/notebooks").text))
        refused = alice.post(
            f"{url}/notebooks",
            data={**tokens, "label": "during outage", "hours": "0.25"},
            headers={"referer": f"{url}/notebooks"},
        )
        assert refused.status_code == 503 and UNAVAILABLE in refused.text
        assert try_again_to(refused.text, "/notebooks")
    # Her agent answers again: the session was not stopped by any of that.
    assert 'data-state="ended"' not in alice.get(url + session_page).text


def test_slurm_not_answering_is_not_no_such_job(
    outage_portal: Portal, hers: Hers, tmp_path: Path
) -> None:
    url, alice = outage_portal.url, hers.client
    no_slurm = tmp_path / f"no-slurm-{uuid.uuid4().hex[:6]}"
    no_slurm.mkdir()
    with started_again(outage_portal, ONESTOP_SLURM__BIN_DIR=str(no_slurm)):
        page = alice.get(f"{url}/jobs/{hers.job}")
        assert page.status_code == 503, page.text[:2000]
        assert UNAVAILABLE in page.text and SENTENCE in page.text
        assert try_again_to(page.text, f"/jobs/{hers.job}")
        assert "No such job" not in page.text
        # The page's live part asks again every 2 s: its answer says the same, briefly.
        polled = alice.get(f"{url}/jobs/{hers.job}/output", headers={"hx-request": "true"})
        assert polled.status_code == 503 and UNAVAILABLE in polled.text
        assert "<html" not in polled.text
        # Her session is still hers to see, its state unknown for now.
        shown = alice.get(f"{url}/notebooks/sessions/{hers.session}")
        assert shown.status_code == 200 and "No such notebook session" not in shown.text
    assert alice.get(f"{url}/jobs/{hers.job}").status_code == 200
