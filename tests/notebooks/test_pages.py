"""The notebook pages over HTTP, as a browser sends them: mistakes explained next to
their field, sessions that are not yours look like none at all, a ``.ipynb`` opens
in her ready session or offers one in its folder, and the classic notebook works
through the proxy too, on the session's own origin."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.conftest import TEST_PORT, Portal, portal_with_own_agents
from tests.helpers import FORM_TOKENS, signed_in, wait_until
from tests.notebook_origin import connect_session, follow, nb_origin, signed_in_browser
from tests.notebooks.conftest import end_session


@pytest.fixture(scope="module")
def pages_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with portal_with_own_agents(
        tmp_path_factory.mktemp("notebook-pages"), TEST_PORT + 10
    ) as portal:
        yield portal


def start(client: httpx.Client, url: str, **fields: str) -> httpx.Response:
    tokens = dict(FORM_TOKENS.findall(client.get(f"{url}/notebooks").text))
    return client.post(f"{url}/notebooks", data={**tokens, **fields})


def field_error(page: str, field: str) -> str:
    match = re.search(
        rf'name="{field}"[^>]*aria-invalid="true"[^>]*>\s*<small class="field-error">([^<]+)',
        page,
    )
    assert match, f"no error next to {field}"
    return match.group(1)


def test_mistakes_are_explained_next_to_their_field(pages_portal: Portal) -> None:
    with signed_in(pages_portal.url, "alice") as client:
        answer = start(client, pages_portal.url, hours="0")
        assert answer.status_code == 400
        assert "at least a few minutes" in field_error(answer.text, "hours")
        answer = start(client, pages_portal.url, hours="3", partition="debug")
        assert answer.status_code == 400
        assert "at most 60 minutes" in field_error(answer.text, "hours")
        answer = start(client, pages_portal.url, memory_gb="lots")
        assert "Please enter a number" in field_error(answer.text, "memory_gb")
        answer = start(client, pages_portal.url, folder="/tmp")
        assert answer.status_code == 409 and "home folder" in answer.text
        assert "Traceback" not in answer.text


def test_someone_elses_session_looks_like_none(pages_portal: Portal) -> None:
    with signed_in(pages_portal.url, "alice") as alice, signed_in(pages_portal.url, "bob") as bob:
        answer = start(alice, pages_portal.url, label="alice only", hours="0.25")
        assert answer.status_code == 303
        session_id = answer.headers["location"].rsplit("/", 1)[-1]
        try:
            page = bob.get(f"{pages_portal.url}/notebooks/sessions/{session_id}")
            assert page.status_code == 404 and "alice only" not in page.text
            unknown = bob.get(f"{pages_portal.url}/notebooks/sessions/0123456789abcdef")
            assert unknown.status_code == 404
            assert bob.get(f"{pages_portal.url}/notebooks/sessions/{session_id}/status").text == ""
            stopped = bob.post(
                f"{pages_portal.url}/notebooks/sessions/{session_id}/stop",
                data=dict(FORM_TOKENS.findall(bob.get(f"{pages_portal.url}/notebooks").text)),
            )
            assert stopped.status_code == 403
            assert "alice only" not in bob.get(f"{pages_portal.url}/notebooks").text
            mine = alice.get(f"{pages_portal.url}/notebooks/sessions/{session_id}")
            assert mine.status_code == 200 and "alice only" in mine.text
            # Its job's page, in the jobs tool, says what it is and leads back here.
            job_id = re.findall(r'href="/jobs/(\d+)"', mine.text)[0]
            job_page = alice.get(f"{pages_portal.url}/jobs/{job_id}")
            assert "Jupyter notebook session" in job_page.text
            assert f'href="/notebooks/sessions/{session_id}"' in job_page.text
            assert "Resubmit" not in job_page.text
        finally:
            end_session(session_id)


def test_a_notebook_file_opens_in_her_session_or_offers_one(pages_portal: Portal) -> None:
    url = pages_portal.url
    alice = pwd.getpwnam("alice")
    folder = Path(alice.pw_dir) / f"open-test-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    os.chown(folder, alice.pw_uid, alice.pw_gid)
    notebook = folder / "analysis.ipynb"
    with signed_in_browser(pages_portal.url, "alice") as client:
        try:
            outside = client.get(f"{url}/notebooks/open", params={"path": "/etc/x.ipynb"})
            assert outside.status_code == 400 and "inside your home folder" in outside.text
            offer = client.get(f"{url}/notebooks/open", params={"path": str(notebook)})
            assert offer.status_code == 200 and "Start notebook" in offer.text
            assert f'name="folder" value="{folder}"' in offer.text, "its folder, filled in"

            # The classic notebook, started from that offer.
            tokens = dict(FORM_TOKENS.findall(offer.text))
            answer = client.post(
                f"{url}/notebooks",
                data={**tokens, "interface": "notebook", "folder": str(folder), "hours": "0.25"},
            )
            assert answer.status_code == 303, answer.text[:2000]
            session_id = answer.headers["location"].rsplit("/", 1)[-1]
            try:

                def ready_status() -> str:
                    text = client.get(f"{url}/notebooks/sessions/{session_id}/status").text
                    return text if 'data-state="ready"' in text else ""

                status = wait_until(ready_status, 120, 0.5)
                assert f'href="/notebooks/sessions/{session_id}/connect"' in status
                # Connect leads to the classic notebook's file list, on the session's
                # own origin.
                tree, visited = connect_session(client, url, session_id)
                assert tree.status_code == 200 and "jupyter" in tree.text.lower()
                assert visited[-1] == f"{nb_origin(url, session_id)}/notebooks/{session_id}/tree"
                opened = client.get(f"{url}/notebooks/open", params={"path": str(notebook)})
                assert opened.status_code == 303
                inside = f"/notebooks/{session_id}/notebooks/{quote(folder.name)}/analysis.ipynb"
                assert opened.headers["location"] == (
                    f"/notebooks/sessions/{session_id}/connect?" + urlencode({"next": inside})
                )
                shown, visited = follow(client, url + opened.headers["location"])
                assert (
                    shown.status_code == 200 and visited[-1] == nb_origin(url, session_id) + inside
                )
            finally:
                end_session(session_id)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
