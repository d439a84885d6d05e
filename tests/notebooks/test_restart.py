"""A portal killed while a notebook session runs comes back with the session listed,
ready, and reachable at the same address, with the same kernel still running.

Sessions live in the database; the restarted portal's monitor takes them up from it
and from Slurm, and probes each server again before it counts as ready.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import TEST_PORT, portal_with_own_agents
from tests.helpers import FORM_TOKENS, sign_in, wait_until
from tests.jupyter_session import run_in_kernel
from tests.notebook_origin import browser, connect_session, cookies_for, nb_origin
from tests.notebooks.conftest import end_session, squeue

PORT = TEST_PORT + 10


def status_of(client: httpx.Client, url: str, session_id: str) -> str:
    answer = client.get(f"{url}/notebooks/sessions/{session_id}/status")
    assert answer.status_code == 200, answer.text[:300]
    match = re.search(r'data-state="([a-z]+)"', answer.text)
    assert match, answer.text[:300]
    return match.group(1)


def wait_ready(client: httpx.Client, url: str, session_id: str, seconds: float = 120) -> None:
    def ready() -> bool:
        state = status_of(client, url, session_id)
        assert state in ("queued", "starting", "ready"), state
        return state == "ready"

    wait_until(ready, seconds, 0.5)


def kernels(client: httpx.Client, url: str, session_id: str) -> list[str]:
    answer = client.get(f"{nb_origin(url, session_id)}/notebooks/{session_id}/api/kernels")
    assert answer.status_code == 200, answer.text[:300]
    return [kernel["id"] for kernel in answer.json()]


def test_a_restarted_portal_keeps_every_session(cluster: None, idp: str, tmp_path: Path) -> None:
    # Agents of this portal's own, so they run the code under test.
    with portal_with_own_agents(tmp_path, PORT) as portal, browser() as client:
        assert sign_in(client, portal.url, "alice").status_code == 303
        form = client.get(f"{portal.url}/notebooks")
        assert form.status_code == 200 and "Start notebook" in form.text
        tokens = dict(FORM_TOKENS.findall(form.text))
        answer = client.post(
            f"{portal.url}/notebooks",
            data={**tokens, "label": "survives restarts", "interface": "lab", "hours": "0.5"},
        )
        assert answer.status_code == 303, answer.text[:2000]
        session_id = answer.headers["location"].rsplit("/", 1)[-1]
        job_id = ""
        try:
            wait_ready(client, portal.url, session_id)
            page = client.get(f"{portal.url}/notebooks/sessions/{session_id}")
            job_id = re.findall(r'href="/jobs/(\d+)"', page.text)[0]
            # A kernel started through the proxy, as JupyterLab would (its XSRF cookie,
            # the session's own Origin), after Connect.
            origin = nb_origin(portal.url, session_id)
            assert connect_session(client, portal.url, session_id)[0].status_code == 200
            xsrf = client.cookies.get("_xsrf", path=f"/notebooks/{session_id}/") or ""
            started = client.post(
                f"{origin}/notebooks/{session_id}/api/kernels",
                json={"name": "python3"},
                headers={"X-XSRFToken": xsrf, "Origin": origin},
            )
            assert started.status_code == 201, started.text[:300]
            kernel = started.json()["id"]
            base = f"/notebooks/{session_id}/"
            host = urlsplit(origin).hostname or ""
            assert (
                run_in_kernel(origin, cookies_for(client, host), base, kernel, "x = 41; x") == "41"
            )

            portal.kill()  # without any chance to clean up
            with pytest.raises(httpx.TransportError):
                client.get(f"{portal.url}/healthz")
            assert squeue(job_id).split()[1] == "RUNNING", "the session outlives the portal"

            portal.start()
            listed = client.get(f"{portal.url}/notebooks")
            assert listed.status_code == 200
            assert "survives restarts" in listed.text
            assert f'data-session="{session_id}" data-state="ready"' in listed.text
            wait_ready(client, portal.url, session_id, seconds=30)
            assert kernel in kernels(client, portal.url, session_id), "the same kernel"
            # Same URL, same kernel, the same pass (her portal session outlived the
            # portal's process too): what she computed before is still there.
            assert run_in_kernel(origin, cookies_for(client, host), base, kernel, "x + 1") == "42"
        finally:
            end_session(session_id)
