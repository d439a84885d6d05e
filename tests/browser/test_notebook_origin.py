"""A notebook's script against the portal, in a real browser with real JupyterLab.

The hole this closes: a notebook whose saved output carries script (a colleague's,
shared in a project) runs that script with the origin of the page showing it. Each
session is now served from an origin of its own, so alice opening such a notebook
(trusted, as a victim would) gives the script nothing: it cannot read a portal page
or its CSRF token, its posts to publish, share and cancel arrive without her session
and change nothing, the portal's /ws refuses it, ``document.cookie`` holds nothing of
the portal's or of the pass, and her other session's origin is as closed to it as
the portal's. Each attempt records what happened in the page, so the test checks
that it failed for the right reason and did not just not run.

Between sessions: a pass is a cookie of one session's host only; bob's browser finds
no way into hers. Sign-out: once she signs out of the portal, her notebook origin
refuses at the next request and her open sockets close within the two seconds
stated, a copy of her pass in another browser included.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from tests import notebook_paths
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal
from tests.helpers import squeue, submit_as
from tests.jupyter_session import JUPYTER_ENV, Jupyter, jupyter_as, register
from tests.notebook_origin import nb_origin
from tests.notebook_paths import AUTH_CACHE_SECONDS
from wrappers.notebooks.proxy import SECRET_HEADER

KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# The output's script: each attempt is recorded as {ok, value} or {ok: false, error},
# then everything lands in window.__onestopAttack (and the console) with done: true.
ATTACK = """
(async () => {
  const PORTAL = "@PORTAL@", OTHER = "@OTHER@", OTHER_BASE = "@OTHER_BASE@";
  const results = {};
  const attempt = async (name, work) => {
    try { results[name] = {ok: true, value: await work()}; }
    catch (error) { results[name] = {ok: false, error: String(error)}; }
  };
  const socket = (url) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => { ws.close(); resolve("opened"); };
    ws.onerror = () => reject(new Error("websocket refused"));
    setTimeout(() => reject(new Error("websocket timed out")), 15000);
  });
  const form = (fields) => new URLSearchParams(fields).toString();
  const post = (url, body) => fetch(url, {
    method: "POST", mode: "no-cors", credentials: "include", body,
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
  }).then((r) => ({type: r.type, status: r.status}));
  await attempt("read_page", async () => {
    const answer = await fetch(PORTAL + "/files", {credentials: "include"});
    const page = await answer.text();
    return {status: answer.status, csrf: (page.match(/name="csrf-token" content="([^"]+)"/) || [])[1]};
  });
  await attempt("read_page_blind", async () => {
    const answer = await fetch(PORTAL + "/", {credentials: "include", mode: "no-cors"});
    return {type: answer.type, status: answer.status, text: await answer.text()};
  });
  await attempt("publish", () => post(PORTAL + "/files/publish",
    form({path: "@HOME@", days: "7", password: "", csrf_token: "guessed"})));
  await attempt("share", () => post(PORTAL + "/files/share",
    form({path: "@HOME@", with: "person", person: "bob", access: "write", csrf_token: "guessed"})));
  await attempt("cancel", () => post(PORTAL + "/jobs/@JOB@/cancel", form({csrf_token: "guessed"})));
  await attempt("portal_ws", () => socket(PORTAL.replace("http", "ws") + "/ws"));
  await attempt("mint_code", async () => {
    const answer = await fetch(PORTAL + "/notebooks/sessions/@SELF@/connect?state=" + "a".repeat(64),
      {credentials: "include", redirect: "manual"});
    return {type: answer.type, status: answer.status};
  });
  await attempt("read_other_session", async () => {
    const answer = await fetch(OTHER + OTHER_BASE + "api/contents", {credentials: "include"});
    return {status: answer.status, text: await answer.text()};
  });
  await attempt("start_kernel_in_other_session", async () => {
    const answer = await fetch(OTHER + OTHER_BASE + "api/kernels", {
      method: "POST", mode: "no-cors", credentials: "include",
      body: JSON.stringify({name: "python3"}),
    });
    return {type: answer.type, status: answer.status};
  });
  await attempt("other_session_ws", () => socket(OTHER.replace("http", "ws") + OTHER_BASE + "api/events/subscribe"));
  results.cookie = document.cookie;
  results.origin = location.origin;
  results.done = true;
  window.__onestopAttack = results;
  console.log("onestop-attack " + JSON.stringify(results));
})();
"""

# Through the portal's own proxy and through nginx (tests/notebook_paths.py).
portal = notebook_paths.portal
proxy_path = notebook_paths.proxy_path


def attack_notebook(portal: Portal, victim: Jupyter, other: Jupyter, job: str) -> dict[str, Any]:
    script = ATTACK
    for key, value in {
        "@PORTAL@": portal.url,
        "@OTHER@": nb_origin(portal.url, other.session_id),
        "@OTHER_BASE@": other.base,
        "@SELF@": victim.session_id,
        "@HOME@": "/home/alice",
        "@JOB@": job,
    }.items():
        script = script.replace(key, value)
    html = (
        '<div id="onestop-attack">A chart of the results</div>'
        '<img src="missing.png" onerror="window.__onestopImage = document.cookie || \'(none)\'">'
        f"<script>{script}</script>"
    )
    javascript = "window.__onestopJavaScript = {origin: location.origin, cookie: document.cookie};"
    outputs = [
        {"output_type": "display_data", "metadata": {}, "data": {"text/html": html}},
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"application/javascript": javascript, "text/plain": "<script>"},
        },
    ]
    return {
        "cells": [
            {
                # A cell id, so nbformat leaves the file as it is and her signature holds.
                "id": "results-chart",
                "cell_type": "code",
                "metadata": {},
                "source": "plot(results)",
                "outputs": outputs,
                "execution_count": 1,
            }
        ],
        "metadata": {"kernelspec": KERNEL},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def as_alice(*command: str) -> None:
    subprocess.run(
        ["runuser", "-u", "alice", "--", "env", "HOME=/home/alice", *command],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def sessions(portal: Portal) -> Iterator[tuple[Jupyter, Jupyter]]:
    """Two sessions of alice's, each its own origin."""
    with jupyter_as("alice") as first, jupyter_as("alice") as second:
        register(portal.database_url, first)
        register(portal.database_url, second)
        yield first, second


def rows(portal: Portal, query: str, **values: object) -> list[Any]:
    engine = create_engine(portal.database_url)
    try:
        with engine.connect() as db:
            return list(db.execute(text(query), values).all())
    finally:
        engine.dispose()


def kernels_of(session: Jupyter) -> list[str]:
    """The kernels running in a session, asked of its Jupyter directly."""
    answer = httpx.get(
        f"http://{session.host}:{session.port}{session.base}api/kernels",
        headers={SECRET_HEADER: session.secret},
        timeout=10,
    )
    answer.raise_for_status()
    return sorted(kernel["id"] for kernel in answer.json())


def access_lines(portal: Portal, since: int) -> list[dict[str, Any]]:
    lines = []
    for line in portal.log_text().splitlines()[since:]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "request":
            lines.append(record)
    return lines


def test_a_notebooks_script_gets_nothing_of_the_portal(
    page: Page, portal: Portal, sessions: tuple[Jupyter, Jupyter]
) -> None:
    victim, other = sessions
    job = submit_as("alice", "--wrap=sleep 600", "--time=15", "--job-name=attack-target")
    name = f"results-{secrets.token_hex(4)}.ipynb"
    notebook = Path("/home/alice") / name
    notebook.write_text(json.dumps(attack_notebook(portal, victim, other, job)))
    subprocess.run(["chown", "alice:alice", str(notebook)], check=True)
    # She trusts it, as a victim would (JupyterLab runs a notebook's script only then).
    as_alice(f"{JUPYTER_ENV}/bin/jupyter", "trust", str(notebook))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        sign_in(page, portal.url, "alice")
        # A pass for her other session too, so the script has something to aim at there.
        page.goto(f"{portal.url}/notebooks/sessions/{other.session_id}/connect")
        expect(page).to_have_url(f"{nb_origin(portal.url, other.session_id)}{other.base}lab")
        page.goto(f"{portal.url}/notebooks/sessions/{victim.session_id}/connect")
        origin = nb_origin(portal.url, victim.session_id)
        expect(page).to_have_url(f"{origin}{victim.base}lab")
        codes_before = rows(portal, "SELECT token_hash FROM notebook_passes WHERE kind = 'code'")
        links_before = rows(portal, "SELECT id FROM public_links")
        shares_before = rows(portal, "SELECT id FROM file_shares")
        audit_mark = rows(portal, "SELECT max(id) FROM audit_events")[0][0]
        kernels_before = kernels_of(other)
        log_mark = len(portal.log_text().splitlines())
        page.goto(f"{origin}{victim.base}lab/workspaces/{name[:-6]}/tree/{name}")
        page.wait_for_function(
            "() => window.__onestopAttack && window.__onestopAttack.done", timeout=90_000
        )
        results: dict[str, Any] = page.evaluate("() => window.__onestopAttack")
        # The image's handler runs once JupyterLab has tried its address (a 404).
        page.wait_for_function("() => window.__onestopImage !== undefined", timeout=15_000)
        ran = page.evaluate("() => [window.__onestopJavaScript, window.__onestopImage]")
        screenshot(page, "notebook-attack")
        job_afterwards = squeue(job, "%T")
    finally:
        subprocess.run(["scancel", job], check=False)
        notebook.unlink(missing_ok=True)
    assert any(line.startswith("onestop-attack ") for line in console), "the script ran"
    # It ran where the notebook lives, on the session's own origin, and nowhere else.
    assert results["origin"] == origin
    assert ran[0] == {"origin": origin, "cookie": results["cookie"]}, "JavaScript output ran"
    assert ran[1] is not None, "the image's onerror ran"
    # Reading the portal: the browser keeps the answer from it (no CORS) ...
    assert results["read_page"]["ok"] is False and "TypeError" in results["read_page"]["error"]
    # ... and a blind read gets an opaque nothing.
    blind = results["read_page_blind"]["value"]
    assert blind == {"type": "opaque", "status": 0, "text": ""}
    # The posts went out, unreadable, and arrived without her session (her cookie is
    # not the notebook origin's to send) and without a CSRF token: refused before any
    # route (the CSRF check answers first).
    for attempt in ("publish", "share", "cancel"):
        assert results[attempt] == {"ok": True, "value": {"type": "opaque", "status": 0}}, attempt
    arrived = {
        (line["path"], line["status"], line["user"])
        for line in access_lines(portal, log_mark)
        if line["method"] == "POST"
    }
    for path in ("/files/publish", "/files/share", f"/jobs/{job}/cancel"):
        assert (path, 403, "anonymous") in arrived, (path, arrived)
    # The portal's /ws: refused at the handshake.
    assert results["portal_ws"] == {"ok": False, "error": "Error: websocket refused"}
    # No code minted for her through the portal's connect route.
    assert results["mint_code"]["ok"] is False or results["mint_code"]["value"]["status"] == 0
    codes_after = rows(portal, "SELECT token_hash FROM notebook_passes WHERE kind = 'code'")
    assert codes_after == codes_before, "no code was minted"
    # Nothing of the portal's cookie or of the pass is readable: only Jupyter's _xsrf.
    assert "onestop" not in results["cookie"] and "_xsrf" in results["cookie"]
    # Her other session's origin is another site to this one: no reading, no writing,
    # no socket (its Origin check), although her browser holds a pass there.
    assert results["read_other_session"]["ok"] is False
    assert "TypeError" in results["read_other_session"]["error"]
    assert results["start_kernel_in_other_session"]["value"] == {"type": "opaque", "status": 0}
    assert kernels_of(other) == kernels_before, "no kernel started there"
    assert results["other_session_ws"] == {"ok": False, "error": "Error: websocket refused"}
    refusals = rows(
        portal,
        "SELECT detail FROM audit_events WHERE action = 'notebooks.connect' AND object = :o",
        o=f"/notebooks/{other.session_id}",
    )
    assert sum(f"origin {origin}" in row[0] for row in refusals) >= 2, refusals
    # Afterwards: no new link, no new share, the job still there, no such verb ran.
    assert rows(portal, "SELECT id FROM public_links") == links_before
    assert rows(portal, "SELECT id FROM file_shares") == shares_before
    assert job_afterwards in ("PENDING", "RUNNING"), job_afterwards
    assert not rows(
        portal,
        "SELECT action FROM audit_events WHERE id > :mark AND action IN "
        "('files.publish', 'files.share', 'jobs.cancel')",
        mark=audit_mark or 0,
    )


def test_a_pass_is_one_sessions_and_bob_finds_no_way_in(
    browser: Browser, page: Page, portal: Portal, sessions: tuple[Jupyter, Jupyter]
) -> None:
    first, second = sessions
    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/notebooks/sessions/{first.session_id}/connect")
    first_origin = nb_origin(portal.url, first.session_id)
    expect(page).to_have_url(f"{first_origin}{first.base}lab")
    cookies = page.context.cookies()
    passes = [cookie for cookie in cookies if cookie["name"] == "onestop_nb"]
    first_host = first_origin.split("//")[1].split(":")[0]
    assert [(c["domain"], c["path"], c["httpOnly"], c["sameSite"]) for c in passes] == [
        (first_host, "/", True, "Lax")
    ], "one pass, for her first session's host only (no Domain, so no other host)"
    portal_cookie = [c for c in cookies if c["name"] == "onestop_session"]
    assert [c["domain"] for c in portal_cookie] == ["127.0.0.1"]
    # From her first session's page, the second session's API answers nothing readable.
    second_origin = nb_origin(portal.url, second.session_id)
    reached = page.evaluate(
        """async (url) => {
            try { const r = await fetch(url, {credentials: "include"}); return r.status; }
            catch (error) { return String(error); }
        }""",
        f"{second_origin}{second.base}api/contents",
    )
    assert "TypeError" in str(reached)
    # Bob, signed in, tries both of her origins: Connect says they are not his.
    context = browser.new_context()
    try:
        bobs = context.new_page()
        sign_in(bobs, portal.url, "bob")
        for session, origin in ((first, first_origin), (second, second_origin)):
            bobs.goto(f"{origin}{session.base}lab")
            expect(
                bobs.get_by_role("heading", name="No such notebook session of yours")
            ).to_be_visible()
            assert bobs.url.startswith(
                f"{portal.url}/notebooks/sessions/{session.session_id}/connect"
            )
        assert not [c for c in context.cookies() if c["name"] == "onestop_nb"]
        screenshot(bobs, "notebook-not-yours")
    finally:
        context.close()


@pytest.fixture
def lab_page(browser: Browser) -> Iterator[Page]:
    """A page whose script errors are JupyterLab's own business: once she has signed
    out, its polling of the server fails (as it should), and it says so."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_signing_out_closes_her_notebook_origin_within_seconds(
    browser: Browser,
    lab_page: Page,
    portal: Portal,
    sessions: tuple[Jupyter, Jupyter],
    proxy_path: str,
) -> None:
    """Through nginx the portal's yes for her pass is kept AUTH_CACHE_SECONDS, so the
    refusal comes within those; a socket nginx opened is nginx's and stays open."""
    first, _ = sessions
    page = lab_page
    origin = nb_origin(portal.url, first.session_id)
    sign_in(page, portal.url, "alice")
    portal_page = page.context.new_page()
    portal_page.goto(f"{portal.url}/notebooks")
    page.goto(f"{portal.url}/notebooks/sessions/{first.session_id}/connect")
    expect(page).to_have_url(f"{origin}{first.base}lab")
    # A copy of her pass in another browser (as if taken from her disk) works for now...
    copied = [c for c in page.context.cookies() if c["name"] == "onestop_nb"]
    other = browser.new_context()
    try:
        other.add_cookies(copied)  # type: ignore[arg-type]
        thief = other.new_page()
        assert thief.goto(f"{origin}{first.base}api/status").status == 200  # type: ignore[union-attr]
        # An open socket of her page, and its closing time.
        page.evaluate(
            """(url) => {
                window.__closed = null;
                const ws = new WebSocket(url);
                ws.onopen = () => { window.__opened = true; };
                ws.onclose = (event) => { window.__closed = {code: event.code, at: Date.now()}; };
            }""",
            f"{origin.replace('http', 'ws')}{first.base}api/events/subscribe",
        )
        page.wait_for_function("() => window.__opened === true")
        status = "() => fetch(location.origin + '%sapi/status').then(r => r.status, e => String(e))"
        assert page.evaluate(status % first.base) == 200
        with portal_page.expect_navigation():
            portal_page.get_by_role("button", name="Sign out").click()
        signed_out = page.evaluate("() => Date.now()")
        if proxy_path == "nginx":
            page.wait_for_timeout(AUTH_CACHE_SECONDS * 1000 + 300)
        # The very next request on her notebook origin is refused (and sent to Connect,
        # which leads across to the portal: no answer her page may read).
        assert "TypeError" in str(page.evaluate(status % first.base))
        thief.goto(f"{origin}{first.base}api/status")
        expect(thief.get_by_label("Username")).to_be_visible()
        if proxy_path == "python":
            # Her open socket closes within the stated two seconds (and a little slack).
            page.wait_for_function("() => window.__closed !== null", timeout=6000)
            closed = page.evaluate("() => window.__closed")
            assert closed["code"] == 4401 and closed["at"] - signed_out < 4000, closed
        # Reloading JupyterLab goes through a new sign-in (which the campus sign-in
        # may grant at once, if she is still signed in there) and a new portal session.
        before = {c["value"] for c in page.context.cookies() if c["name"] == "onestop_session"}
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(f"{origin}{first.base}lab")
        assert any(url.startswith(f"{portal.url}/login?") for url in asked), asked
        after = {c["value"] for c in page.context.cookies() if c["name"] == "onestop_session"}
        assert after and not after & before, "a new portal session, not the old one"
        screenshot(page, "notebook-after-sign-out")
    finally:
        other.close()
