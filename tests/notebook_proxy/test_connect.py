"""Connecting to a session's own origin, and what that origin is not.

A code from the portal works once, for a minute, for its session, in the browser
that asked for it; everything else is refused in plain words and audited. The pass
it becomes is the origin's own cookie (host-only, HttpOnly, SameSite=Lax, as long as
her portal session) and opens that session only. The origin serves nothing of the
portal: no page, route, cookie or WebSocket of it. The sessions here are stand-ins
(a small server that answers every request), registered as the monitor leaves a
ready session: connecting does not look further than the portal's record.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, text
from websockets.exceptions import InvalidStatus

from tests import notebook_paths
from tests.conftest import Portal
from tests.jupyter_session import Jupyter
from tests.notebook_origin import (
    answering,
    browser,
    connect_session,
    cookies_for,
    follow,
    nb_host,
    nb_origin,
    open_ws,
    signed_in_browser,
    stand_in,
)

# Through the portal's own proxy and through nginx (tests/notebook_paths.py).
portal = notebook_paths.portal
proxy_path = notebook_paths.proxy_path


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    with answering() as port:
        yield port


def host_of(portal: Portal, session: Jupyter) -> str:
    return nb_host(portal.url, session.session_id).split(":")[0]


def code_link(client: httpx.Client, portal: Portal, session: Jupyter) -> str:
    """Connect as far as the code: the /_onestop/enter address the portal sends the
    browser to (not visited), after the state cookie was set on the session's origin."""
    first = client.get(f"{portal.url}/notebooks/sessions/{session.session_id}/connect")
    assert first.status_code == 303, first.text[:300]
    origin = nb_origin(portal.url, session.session_id)
    assert first.headers["location"].startswith(f"{origin}/_onestop/connect?")
    second = client.get(first.headers["location"])
    assert second.status_code == 303
    assert second.headers["location"].startswith(
        f"{portal.url}/notebooks/sessions/{session.session_id}/connect?state="
    )
    third = client.get(second.headers["location"])
    assert third.status_code == 303, third.text[:300]
    link = str(third.headers["location"])
    assert link.startswith(f"{origin}/_onestop/enter?code=")
    return link


def code_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["code"][0]


def audit_count(portal: Portal, reason: str) -> int:
    """How many refusals for this reason the audit holds."""
    engine = create_engine(portal.database_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                text("SELECT * FROM audit_events WHERE action = 'notebooks.connect'")
            ).all()
    finally:
        engine.dispose()
    return sum(reason in json.loads(row.detail).get("reason", "") for row in rows)


def audited(portal: Portal, reason: str) -> bool:
    return audit_count(portal, reason) > 0


def test_a_code_works_once_and_becomes_the_origins_own_cookie(
    portal: Portal, upstream: int
) -> None:
    session = stand_in(portal.database_url, upstream)
    with signed_in_browser(portal.url, "alice") as alice:
        # The portal's own cookie is bound to the portal's host: no Domain.
        portal_cookie = next(c for c in alice.cookies.jar if c.name == "onestop_session")
        assert portal_cookie.domain == "127.0.0.1" and not portal_cookie.domain_specified
        link = code_link(alice, portal, session)
        entered = alice.get(link)
        assert entered.status_code == 303
        assert entered.headers["location"] == f"{session.base}lab"
        assert entered.headers["referrer-policy"] == "no-referrer"
        made = {value.split("=", 1)[0]: value for value in entered.headers.get_list("set-cookie")}
        assert set(made) == {"onestop_nb", "onestop_nb_state"}
        attributes = [part.strip() for part in made["onestop_nb"].split(";")]
        assert {"Path=/", "HttpOnly", "SameSite=Lax"} <= set(attributes), attributes
        assert not any(part.lower().startswith("domain") for part in attributes)
        lasts = int(next(part for part in attributes if part.startswith("Max-Age="))[8:])
        assert 8 * 3600 - 120 < lasts <= 8 * 3600, "as long as her portal session"
        assert "Max-Age=0" in made["onestop_nb_state"], "the state cookie is spent too"
        # The pass is for this host only, and opens the session.
        pass_cookie = next(c for c in alice.cookies.jar if c.name == "onestop_nb")
        assert pass_cookie.domain == host_of(portal, session)
        answer = alice.get(nb_origin(portal.url, session.session_id) + session.base + "lab")
        assert answer.status_code == 200 and answer.json()["path"] == f"{session.base}lab"
        # The same code again: refused, whoever presents it.
        again = alice.get(link)
        assert again.status_code == 403 and "has been used" in again.text
        assert "onestop_nb" not in again.headers.get("set-cookie", "")
    assert audited(portal, "code used twice")


def test_an_old_code_and_an_unknown_one_are_refused(portal: Portal, upstream: int) -> None:
    session = stand_in(portal.database_url, upstream)
    with signed_in_browser(portal.url, "alice") as alice:
        link = code_link(alice, portal, session)
        engine = create_engine(portal.database_url)
        try:
            with engine.begin() as db:
                db.execute(
                    text("UPDATE notebook_passes SET expires_at = :past WHERE token_hash = :h"),
                    {
                        "past": datetime.now(UTC) - timedelta(seconds=1),
                        "h": hashlib.sha256(code_of(link).encode()).hexdigest(),
                    },
                )
        finally:
            engine.dispose()
        old = alice.get(link)
        assert old.status_code == 403 and "too old" in old.text and "a minute" in old.text
        forged = link.replace(code_of(link), secrets.token_urlsafe(32))
        unknown = alice.get(forged)
        assert unknown.status_code == 403 and "does not work" in unknown.text
        for refused in (old, unknown):
            # In words, with the way back to the session's page on the portal.
            assert f'href="{portal.url}/notebooks/sessions/{session.session_id}"' in refused.text
            assert "<script" not in refused.text
        assert not any(c.name == "onestop_nb" for c in alice.cookies.jar)
    assert audited(portal, "code expired") and audited(portal, "unknown code")


def test_a_code_for_one_session_opens_no_other(portal: Portal, upstream: int) -> None:
    first, second = stand_in(portal.database_url, upstream), stand_in(portal.database_url, upstream)
    with signed_in_browser(portal.url, "alice") as alice:
        link = code_link(alice, portal, first)
        elsewhere = link.replace(
            nb_origin(portal.url, first.session_id), nb_origin(portal.url, second.session_id)
        )
        refused = alice.get(elsewhere)
        assert refused.status_code == 403 and "for another session" in refused.text
    assert audited(portal, "code for another session")


def test_a_code_works_only_in_the_browser_that_asked_for_it(portal: Portal, upstream: int) -> None:
    """Alice's code, seen by bob (over her shoulder, in a log): his browser, even one
    holding a state cookie of its own for her session's origin, gets nothing with it."""
    session = stand_in(portal.database_url, upstream)
    with (
        signed_in_browser(portal.url, "alice") as alice,
        signed_in_browser(portal.url, "bob") as bob,
    ):
        link = code_link(alice, portal, session)
        # Bob's own try at her session: a state cookie there, then the portal says no.
        tried, visited = connect_session(bob, portal.url, session.session_id)
        assert tried.status_code == 404 and "not yours" in tried.text
        assert not any("/_onestop/" in url for url in visited), "no code for him at all"
        start = bob.get(f"{nb_origin(portal.url, session.session_id)}/_onestop/connect")
        assert start.status_code == 303 and any(
            c.name == "onestop_nb_state" for c in bob.cookies.jar
        )
        stolen = bob.get(link)
        assert stolen.status_code == 403 and "made for another browser" in stolen.text
        assert not any(c.name == "onestop_nb" for c in bob.cookies.jar)
        # Presented once, the code is spent: alice connects again from her page.
        late = alice.get(link)
        assert late.status_code == 403 and "has been used" in late.text
        assert connect_session(alice, portal.url, session.session_id)[0].status_code == 200
        # Nor in a browser with no state cookie at all.
        link = code_link(alice, portal, stand_in(portal.database_url, upstream))
        with browser() as stranger:
            refused = stranger.get(link)
            assert refused.status_code == 403 and "made for another browser" in refused.text
    assert audited(portal, "code from another browser")


def test_a_pass_opens_its_own_session_only(portal: Portal, upstream: int) -> None:
    """Her second session is not reached with the first's pass; bob's pass, or his
    portal cookie, opens nothing of hers."""
    first, second = stand_in(portal.database_url, upstream), stand_in(portal.database_url, upstream)
    bobs = stand_in(portal.database_url, upstream, owner="bob")
    with (
        signed_in_browser(portal.url, "alice") as alice,
        signed_in_browser(portal.url, "bob") as bob,
    ):
        assert connect_session(alice, portal.url, first.session_id)[0].status_code == 200
        assert connect_session(bob, portal.url, bobs.session_id)[0].status_code == 200
        first_pass = cookies_for(alice, host_of(portal, first))
        assert cookies_for(alice, host_of(portal, second)) == "", "host-only: never sent there"
        second_lab = nb_origin(portal.url, second.session_id) + second.base + "lab"
        # Sent there anyway (a forged request): refused.
        forged = alice.get(second_lab, headers={"Cookie": first_pass})
        assert forged.status_code == 403 and "not yours" in forged.text
        # Bob's pass for his own session, and his portal cookie, on her session's host.
        first_lab = nb_origin(portal.url, first.session_id) + first.base + "lab"
        with browser() as anyone:
            his_pass = anyone.get(
                first_lab, headers={"Cookie": cookies_for(bob, host_of(portal, bobs))}
            )
            assert his_pass.status_code == 403 and "not yours" in his_pass.text
            his_portal = anyone.get(first_lab, headers={"Cookie": cookies_for(bob, "127.0.0.1")})
            assert his_portal.status_code == 303
            assert his_portal.headers["location"].startswith("/_onestop/connect?")
            # His WebSocket to her session, with his pass: refused at the handshake.
            ws = nb_origin(portal.url, first.session_id) + first.base + "api/events/subscribe"
            with pytest.raises(InvalidStatus) as closed:
                open_ws(
                    ws.replace("http://", "ws://"),
                    cookies_for(bob, host_of(portal, bobs)),
                    nb_origin(portal.url, first.session_id),
                )
            assert closed.value.response.status_code == 403
        # Her second session takes a Connect of its own, and then opens.
        assert connect_session(alice, portal.url, second.session_id)[0].status_code == 200
        assert alice.get(second_lab).status_code == 200
    # The forged pass, his request and his WebSocket: each refusal audited once, on
    # either path (nginx hands its refusals on with its key, and the portal does not
    # audit them again).
    assert audit_count(portal, "another session's pass") == 3


def test_a_notebook_origin_is_not_the_portal(portal: Portal, upstream: int) -> None:
    """Nothing of the portal answers on a notebook origin: no page, no route, no
    cookie, no /ws; its own refusals still carry the portal's security headers."""
    session = stand_in(portal.database_url, upstream)
    origin = nb_origin(portal.url, session.session_id)
    with signed_in_browser(portal.url, "alice") as alice:
        assert connect_session(alice, portal.url, session.session_id)[0].status_code == 200
        root = alice.get(origin + "/")
        assert root.status_code == 307 and root.headers["location"] == session.base
        for path in (
            "/login",
            "/healthz",
            "/static/app.js",
            "/notebooks",
            "/files",
            "/admin/sessions",
        ):
            page = alice.get(origin + path)
            assert page.status_code == 404, path
            assert "Not a notebook address" in page.text and "set-cookie" not in page.headers
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["content-security-policy"].startswith("default-src 'none'")
        logout = alice.post(origin + "/logout")
        assert logout.status_code == 404 and "set-cookie" not in logout.headers
        assert alice.get(f"{portal.url}/").status_code == 200, "still signed in to the portal"
        with pytest.raises(InvalidStatus) as refused:
            open_ws(
                origin.replace("http://", "ws://") + "/ws", cookies_for(alice, "127.0.0.1"), origin
            )
        assert refused.value.response.status_code == 403
        # A host under the notebook domain that names no session, and the domain itself.
        port = urlsplit(portal.url).port
        for host in (f"nosuch.nb.localhost:{port}", f"nb.localhost:{port}"):
            answer = alice.get(f"{portal.url}/", headers={"Host": host})
            assert answer.status_code == 404 and "Not a notebook address" in answer.text
        # An old Jupyter address on the portal leads to Connect, and through it here.
        page, visited = follow(alice, f"{portal.url}{session.base}lab/tree/x.ipynb?reset")
        assert page.status_code == 200
        assert visited[-1] == f"{origin}{session.base}lab/tree/x.ipynb?reset"
