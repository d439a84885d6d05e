"""The decision alone (``/_onestop/auth``), as nginx's auth_request asks it.

It decides as the portal's own proxy does and says where to go (the stored address,
the secret, the Host for Jupyter), or 401 (connect again) or 403 (refused, its own
status beside); without the site's key there is no such endpoint, and no browser
gets a secret out of it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import TEST_PORT, Portal, running_portal
from tests.jupyter_session import Jupyter
from tests.notebook_origin import (
    answering,
    connect_session,
    cookies_for,
    nb_host,
    nb_origin,
    signed_in_browser,
    stand_in,
)

KEY = "nginx-and-the-portal-share-this"


@pytest.fixture(scope="module")
def keyed_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with running_portal(
        tmp_path_factory.mktemp("decide"),
        TEST_PORT + 10,
        ONESTOP_NOTEBOOKS__AUTH_REQUEST_KEY=KEY,
    ) as portal:
        yield portal


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    with answering() as port:
        yield port


def ask(
    client: httpx.Client,
    portal: Portal,
    session: Jupyter,
    path: str,
    *,
    cookie: str = "",
    key: str | None = KEY,
    method: str = "GET",
    **headers: str,
) -> httpx.Response:
    """nginx's subrequest for a browser's ``method path`` to the session's origin."""
    sent = {"X-Original-URI": path, "X-Original-Method": method, **headers}
    if cookie:
        sent["Cookie"] = cookie
    if key is not None:
        sent["X-Onestop-Auth-Key"] = key
    return client.get(nb_origin(portal.url, session.session_id) + "/_onestop/auth", headers=sent)


def test_nginx_is_told_where_her_request_goes(keyed_portal: Portal, upstream: int) -> None:
    portal = keyed_portal
    session = stand_in(portal.database_url, upstream)
    origin = nb_origin(portal.url, session.session_id)
    with signed_in_browser(portal.url, "alice") as alice:
        assert connect_session(alice, portal.url, session.session_id)[0].status_code == 200
        her_pass = cookies_for(alice, nb_host(portal.url, session.session_id).split(":")[0])
        yes = ask(alice, portal, session, f"{session.base}api/status?x=1", cookie=her_pass)
        assert yes.status_code == 204
        assert yes.headers["x-onestop-upstream"] == f"127.0.0.1:{upstream}"
        assert yes.headers["x-onestop-notebook-secret"] == session.secret
        assert yes.headers["x-onestop-host"] == nb_host(portal.url, session.session_id)
        assert yes.headers["x-onestop-user"] == "alice"
        # A WebSocket and a change, from the session's own page: yes.
        kinds = (
            {"method": "GET", "Upgrade": "websocket", "Origin": origin},
            {"method": "POST", "Origin": origin},
        )
        for kind in kinds:
            assert (
                ask(
                    alice, portal, session, f"{session.base}api/kernels", cookie=her_pass, **kind
                ).status_code
                == 204
            )
        # The same from another origin (the portal's, say), or a way out of the
        # session's addresses: refused, with the embedded proxy's own status.
        for kind, path, status in (
            (
                {"method": "GET", "Upgrade": "websocket", "Origin": portal.url},
                "api/events/subscribe",
                "403",
            ),
            ({"method": "POST", "Origin": "http://elsewhere.example"}, "api/kernels", "403"),
            ({"method": "GET"}, "..%2f..%2fapi/status", "400"),
        ):
            no = ask(alice, portal, session, session.base + path, cookie=her_pass, **kind)
            assert no.status_code == 403 and no.headers["x-onestop-status"] == status, path
            assert "x-onestop-notebook-secret" not in no.headers
        # Signed out: connect again (401), and the secret is not given.
        token = (
            alice.get(portal.url + "/").text.split('name="csrf-token" content="')[1].split('"')[0]
        )
        assert (
            alice.post(portal.url + "/logout", headers={"X-CSRF-Token": token}).status_code == 303
        )
        gone = ask(alice, portal, session, f"{session.base}api/status", cookie=her_pass)
        assert gone.status_code == 401 and "x-onestop-notebook-secret" not in gone.headers


def test_without_a_pass_or_with_bobs_nginx_hears_no(keyed_portal: Portal, upstream: int) -> None:
    portal = keyed_portal
    hers = stand_in(portal.database_url, upstream)
    his = stand_in(portal.database_url, upstream, owner="bob")
    with signed_in_browser(portal.url, "bob") as bob:
        assert connect_session(bob, portal.url, his.session_id)[0].status_code == 200
        his_pass = cookies_for(bob, nb_host(portal.url, his.session_id).split(":")[0])
        assert ask(bob, portal, hers, f"{hers.base}lab").status_code == 401
        refused = ask(bob, portal, hers, f"{hers.base}lab", cookie=his_pass)
        assert (
            refused.status_code == 403
            and refused.headers["x-onestop-refusal"] == "another session's pass"
        )
        assert "x-onestop-upstream" not in refused.headers


def test_no_key_no_decision(keyed_portal: Portal, portal: Portal, upstream: int) -> None:
    """A browser asking for itself (no key, a wrong key) learns nothing: there is no
    such address for it."""
    session = stand_in(keyed_portal.database_url, upstream)
    with signed_in_browser(keyed_portal.url, "alice") as alice:
        connected = connect_session(alice, keyed_portal.url, session.session_id)[0]
        assert connected.status_code == 200
        her_pass = cookies_for(alice, nb_host(keyed_portal.url, session.session_id).split(":")[0])
        for key in (None, "", "a guess"):
            answer = ask(
                alice, keyed_portal, session, f"{session.base}lab", cookie=her_pass, key=key
            )
            assert answer.status_code == 404 and "Not a notebook address" in answer.text
            assert session.secret not in answer.text + repr(answer.headers)
    # A portal whose site set no key has no such endpoint at all, whatever is sent.
    elsewhere = stand_in(portal.database_url, upstream)
    with signed_in_browser(portal.url, "alice") as alice:
        assert connect_session(alice, portal.url, elsewhere.session_id)[0].status_code == 200
        her_pass = cookies_for(alice, nb_host(portal.url, elsewhere.session_id).split(":")[0])
        for key in (KEY, ""):
            answer = ask(alice, portal, elsewhere, f"{elsewhere.base}lab", cookie=her_pass, key=key)
            assert answer.status_code == 404 and elsewhere.secret not in repr(answer.headers)
