"""Sign-in, sign-out and the first tier of security, over HTTP against the real provider."""

from __future__ import annotations

import asyncio
import sqlite3
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import websockets

from app.auth.guard import is_public
from app.main import create_app
from app.settings import load_settings
from tests.conftest import Portal
from tests.helpers import LOG_KEYS, callback_url, new_client, sign_in


def session_rows(portal: Portal, query: str) -> list[tuple]:
    path = portal.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def cookie(client: httpx.Client) -> str | None:
    return client.cookies.get("onestop_session")


def test_alice_signs_in_and_sees_her_dashboard(portal: Portal) -> None:
    with new_client() as client:
        answer = sign_in(client, portal.url, "alice")
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        page = client.get(portal.url + "/")
        assert page.status_code == 200
        assert "Hello, Alice Anderson" in page.text
        assert "chem" in page.text and "physics" not in page.text
        assert 'data-node="node1"' in page.text and 'data-node="node2"' in page.text


def test_session_id_changes_at_sign_in(portal: Portal) -> None:
    with new_client() as client:
        url = callback_url(client, portal.url, "bob")
        before = cookie(client)
        assert before, "the sign-in should start with a pre-login session holding the state"
        client.get(url)
        after = cookie(client)
        assert after and after != before
        # The pre-login id is worthless now.
        with new_client() as stale:
            stale.cookies.set("onestop_session", before)
            assert stale.get(portal.url + "/").status_code == 303


def test_mallory_has_no_account_and_gets_no_session(portal: Portal) -> None:
    with new_client() as client:
        answer = sign_in(client, portal.url, "mallory")
        assert answer.status_code == 403
        assert "You have no account on this cluster" in answer.text
        assert client.get(portal.url + "/").status_code == 303
    rows = session_rows(
        portal,
        "select count(*) from web_sessions s join users u on s.user_id = u.id "
        "where u.unix_name = 'mallory'",
    )
    assert rows == [(0,)]
    audit = session_rows(
        portal, "select outcome from audit_events where actor = 'mallory' and action = 'auth.login'"
    )
    assert ("no-account",) in audit


def test_every_page_needs_sign_in(portal: Portal) -> None:
    app = create_app(load_settings(database_url=portal.database_url))
    private = [
        route.path
        for route in app.routes
        if hasattr(route, "methods")
        and "GET" in (route.methods or ())
        and not is_public(route.path, app.state.public_prefixes)
    ]
    assert "/" in private
    with new_client() as client:
        for path in private:
            concrete = path.replace("{name}", "x")
            answer = client.get(portal.url + concrete)
            assert answer.status_code == 303, path
            location = answer.headers["location"]
            assert location.startswith("/login?")
            assert parse_qs(urlsplit(location).query)["next"] == [concrete]


OPEN_REDIRECTS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://127.0.0.1:8001//evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "%68ttps://evil.example",
    "javascript:alert(1)",
    "/\tevil",
    " //evil.example",
    "https:evil.example",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_next_never_leaves_the_portal(portal: Portal, target: str) -> None:
    with new_client() as client:
        answer = sign_in(client, portal.url, "alice", next_url=target)
        assert answer.status_code == 303
        location = answer.headers["location"]
        parts = urlsplit(location)
        assert not parts.scheme and not parts.netloc
        assert location.startswith("/") and not location.startswith(("//", "/\\"))
        assert location == "/"


def test_next_keeps_a_local_path(portal: Portal) -> None:
    with new_client() as client:
        answer = sign_in(client, portal.url, "alice", next_url="/?tab=jobs")
        assert answer.headers["location"] == "/?tab=jobs"


def test_wrong_state_is_refused(portal: Portal) -> None:
    with new_client() as client:
        url = callback_url(client, portal.url, "alice")
        query = parse_qs(urlsplit(url).query)
        forged = f"{portal.url}/auth/callback?code={query['code'][0]}&state=not-the-state"
        answer = client.get(forged)
        assert answer.status_code == 400
        assert "Sign-in did not complete" in answer.text
        assert client.get(portal.url + "/").status_code == 303


def test_callback_from_another_browser_is_refused(portal: Portal) -> None:
    with new_client() as victim, new_client() as attacker:
        url = callback_url(attacker, portal.url, "alice")
        answer = victim.get(url)  # the state is bound to the attacker's session, not this one
        assert answer.status_code == 400
        assert victim.get(portal.url + "/").status_code == 303


def test_replayed_code_is_refused(portal: Portal) -> None:
    with new_client() as first, new_client() as second:
        used = callback_url(first, portal.url, "alice")
        assert first.get(used).status_code == 303
        # A second browser with its own valid state presents the already redeemed code.
        fresh = callback_url(second, portal.url, "bob")
        state = parse_qs(urlsplit(fresh).query)["state"][0]
        code = parse_qs(urlsplit(used).query)["code"][0]
        answer = second.get(f"{portal.url}/auth/callback?code={code}&state={state}")
        assert answer.status_code == 400
        assert second.get(portal.url + "/").status_code == 303
    refusals = session_rows(
        portal,
        "select detail from audit_events where outcome = 'refused' and action = 'auth.login'",
    )
    assert any("code exchange refused" in detail for (detail,) in refusals)


def test_post_without_csrf_token_is_refused(portal: Portal) -> None:
    with new_client() as client:
        sign_in(client, portal.url, "alice")
        assert client.post(portal.url + "/logout").status_code == 403
        assert client.post(portal.url + "/logout", data={"csrf_token": "wrong"}).status_code == 403
        assert client.get(portal.url + "/").status_code == 200, "still signed in"


def test_sign_out_ends_the_session_and_goes_to_the_provider(portal: Portal) -> None:
    with new_client() as client:
        sign_in(client, portal.url, "alice")
        page = client.get(portal.url + "/")
        token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        answer = client.post(portal.url + "/logout", headers={"X-CSRF-Token": token})
        assert answer.status_code == 303
        target = urlsplit(answer.headers["location"])
        assert f"{target.scheme}://{target.netloc}" == "http://127.0.0.1:9000"
        query = parse_qs(target.query)
        assert query["post_logout_redirect_uri"] == [portal.url + "/signed-out"]
        assert "id_token_hint" in query
        assert client.get(portal.url + "/").status_code == 303


def test_admin_can_revoke_sessions(portal: Portal) -> None:
    import subprocess

    from tests.conftest import ONESTOP

    with new_client() as client:
        sign_in(client, portal.url, "carol")
        assert client.get(portal.url + "/").status_code == 200
        done = subprocess.run(
            [ONESTOP, "sessions", "revoke", "carol"],
            env=portal.env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Ended 1 session" in done.stdout
        assert client.get(portal.url + "/").status_code == 303


def test_security_headers_on_every_kind_of_response(portal: Portal) -> None:
    with new_client() as client:
        for path in ("/", "/signed-out", "/static/app.css", "/does-not-exist", "/login"):
            answer = client.get(portal.url + path)
            csp = answer.headers.get("content-security-policy", "")
            assert "script-src 'self'" in csp, path
            assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp
            # WebAssembly may be compiled (the upload checksums), nothing else evaluated.
            assert "script-src 'self' 'wasm-unsafe-eval';" in csp, path
            assert "frame-ancestors 'none'" in csp
            assert answer.headers.get("x-content-type-options") == "nosniff"
            assert answer.headers.get("referrer-policy") == "same-origin"


def test_session_cookie_is_http_only_and_same_site(portal: Portal) -> None:
    with new_client() as client:
        url = callback_url(client, portal.url, "alice")
        answer = client.get(url)
        set_cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "path=/" in set_cookie


def _ws_handshake(portal: Portal, origin: str, cookie_value: str | None) -> str:
    async def attempt() -> str:
        headers = {"Cookie": f"onestop_session={cookie_value}"} if cookie_value else {}
        url = portal.url.replace("http://", "ws://") + "/ws"
        try:
            async with websockets.connect(url, origin=origin, additional_headers=headers) as ws:
                message = await asyncio.wait_for(ws.recv(), 10)
                return "open:" + str(message)
        except websockets.exceptions.InvalidStatus as error:
            return f"refused:{error.response.status_code}"
        except websockets.exceptions.ConnectionClosed as error:
            return f"closed:{error.rcvd.code if error.rcvd else ''}"

    return asyncio.run(attempt())


def test_websocket_checks_origin_and_session(portal: Portal) -> None:
    with new_client() as client:
        sign_in(client, portal.url, "alice")
        value = cookie(client)
    opened = _ws_handshake(portal, portal.url, value)
    assert opened.startswith("open:") and 'id="cluster-panel"' in opened
    assert _ws_handshake(portal, "http://evil.example", value).startswith(("refused", "closed"))
    assert _ws_handshake(portal, portal.url, None).startswith(("refused", "closed"))
    refused = session_rows(
        portal,
        "select count(*) from audit_events where action = 'ws.connect' and outcome = 'refused'",
    )
    assert refused[0][0] >= 1


def test_a_revoked_session_loses_its_live_connection(portal: Portal) -> None:
    import subprocess

    from tests.conftest import ONESTOP

    with new_client() as client:
        sign_in(client, portal.url, "carol")
        value = cookie(client)

    async def watch() -> str:
        url = portal.url.replace("http://", "ws://") + "/ws"
        headers = {"Cookie": f"onestop_session={value}"}
        async with websockets.connect(url, origin=portal.url, additional_headers=headers) as ws:
            await asyncio.wait_for(ws.recv(), 10)  # the catch-up fragments arrive
            await asyncio.to_thread(
                subprocess.run,
                [ONESTOP, "sessions", "revoke", "carol"],
                env=portal.env,
                check=True,
                capture_output=True,
            )
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
            except websockets.exceptions.ConnectionClosed as error:
                return str(error.rcvd.code if error.rcvd else "")

    assert asyncio.run(watch()) == "4401"


def test_a_foreign_malformed_cookie_does_not_hide_ours(portal: Portal) -> None:
    with new_client() as client:
        sign_in(client, portal.url, "alice")
        value = cookie(client)
    raw = f'a b=1; other="unterminated; onestop_session={value}; x=y'
    answer = httpx.get(portal.url + "/", headers={"Cookie": raw})
    assert answer.status_code == 200 and "Alice Anderson" in answer.text


def test_a_non_ascii_csrf_token_is_a_plain_refusal(portal: Portal) -> None:
    with new_client() as client:
        sign_in(client, portal.url, "alice")
        answer = client.post(
            portal.url + "/logout", headers={"X-CSRF-Token": "caf\u00e9".encode("latin-1")}
        )
        assert answer.status_code == 403
        assert "security token" in answer.text
    refused = session_rows(
        portal,
        "select count(*) from audit_events where action = 'csrf.check' and outcome = 'refused'",
    )
    assert refused[0][0] >= 1


def test_a_campus_identity_cannot_take_over_a_bound_account(portal: Portal) -> None:
    path = portal.database_url.removeprefix("sqlite:///")
    with new_client() as client:
        sign_in(client, portal.url, "bob")  # binds bob's campus identity to Unix bob
    with sqlite3.connect(path) as db:
        db.execute("update users set subject = 'someone-else' where unix_name = 'bob'")
    try:
        with new_client() as client:
            answer = sign_in(client, portal.url, "bob")
            assert answer.status_code == 403
            assert "does not match your cluster account" in answer.text
            assert client.get(portal.url + "/").status_code == 303
        outcomes = session_rows(
            portal, "select outcome from audit_events where actor = 'bob' and action = 'auth.login'"
        )
        assert ("conflict",) in outcomes
    finally:
        import subprocess

        from tests.conftest import ONESTOP

        forgot = subprocess.run(
            [ONESTOP, "users", "forget", "bob"], env=portal.env, check=True, capture_output=True
        )
        assert b"Forgot bob" in forgot.stdout
    with new_client() as client:
        assert sign_in(client, portal.url, "bob").status_code == 303, "linked afresh"


def test_requests_are_logged_with_the_persons_name(portal: Portal) -> None:
    import json

    with new_client() as client:
        sign_in(client, portal.url, "carol")
        client.get(portal.url + "/?from=log-test")
    lines = [json.loads(line) for line in portal.log_text().splitlines() if line.startswith("{")]
    assert all(LOG_KEYS <= line.keys() for line in lines), "the agents' and gateway's keys too"
    requests = [line for line in lines if line.get("event") == "request"]
    assert any(
        line["user"] == "carol" and line["path"] == "/" and line["status"] == 200
        for line in requests
    )
    logins = [line for line in lines if line.get("event") == "audit"]
    assert any(line["actor"] == "carol" and line["action"] == "auth.login" for line in logins)


def test_an_expired_session_is_over(portal: Portal) -> None:
    path = portal.database_url.removeprefix("sqlite:///")
    with new_client() as client:
        sign_in(client, portal.url, "carol")
        assert client.get(portal.url + "/").status_code == 200
        with sqlite3.connect(path) as db:
            db.execute(
                "update web_sessions set expires_at = datetime('now', '-1 minute') "
                "where user_id = (select id from users where unix_name = 'carol')"
            )
        assert client.get(portal.url + "/").status_code == 303
