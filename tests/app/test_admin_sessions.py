"""Admins (members of onestop-admins, recently signed in) end other people's sessions."""

from __future__ import annotations

import sqlite3
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from tests.conftest import Portal
from tests.helpers import FORM_ACTION, new_client, sign_in, submit_login_form


def csrf_of(client: httpx.Client, portal: Portal) -> str:
    page = client.get(portal.url + "/")
    return page.text.split('name="csrf-token" content="')[1].split('"')[0]


def age_sign_in_of(portal: Portal, unix_name: str, minutes: int) -> None:
    """Pretend the password was typed ``minutes`` ago (the session's ``auth_time``)."""
    path = portal.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute(
            "update web_sessions set data = json_set(data, '$.auth_time', "
            "json_extract(data, '$.auth_time') - ?) "
            "where user_id in (select id from users where unix_name = ?)",
            (minutes * 60, unix_name),
        )


def test_a_non_admin_is_refused_and_audited(portal: Portal) -> None:
    with new_client() as alice:
        sign_in(alice, portal.url, "alice")
        page = alice.get(portal.url + "/admin/sessions")
        assert page.status_code == 403
        assert "for portal administrators" in page.text
        token = csrf_of(alice, portal)
        answer = alice.post(
            portal.url + "/admin/sessions/revoke",
            data={"user": "bob", "csrf_token": token},
        )
        assert answer.status_code == 403
        assert "Signed-in people" not in alice.get(portal.url + "/").text


def test_an_admin_ends_another_persons_sessions(portal: Portal) -> None:
    with new_client() as erin, new_client() as bob:
        sign_in(bob, portal.url, "bob")
        sign_in(erin, portal.url, "erin")
        assert "Signed-in people" in erin.get(portal.url + "/").text
        page = erin.get(portal.url + "/admin/sessions")
        assert page.status_code == 200
        assert 'data-user="bob"' in page.text and "this is you" in page.text
        answer = erin.post(
            portal.url + "/admin/sessions/revoke",
            data={"user": "bob", "csrf_token": csrf_of(erin, portal)},
        )
        assert answer.status_code == 303
        assert bob.get(portal.url + "/").status_code == 303, "bob is signed out"
        assert erin.get(portal.url + "/").status_code == 200, "erin is not"
        assert 'data-user="bob"' not in erin.get(portal.url + "/admin/sessions").text


def test_ending_sessions_needs_a_recent_sign_in(portal: Portal) -> None:
    with new_client() as erin, new_client() as carol:
        sign_in(carol, portal.url, "carol")
        sign_in(erin, portal.url, "erin")
        age_sign_in_of(portal, "erin", 45)
        assert erin.get(portal.url + "/admin/sessions").status_code == 200, "looking is fine"
        refused = erin.post(
            portal.url + "/admin/sessions/revoke",
            data={"user": "carol", "csrf_token": csrf_of(erin, portal)},
        )
        assert refused.status_code == 403 and "Please sign in again" in refused.text
        assert carol.get(portal.url + "/").status_code == 200, "nothing happened to carol"
        # The provider must ask for the password again, although its session is alive.
        start = erin.get(portal.url + "/login?next=%2Fadmin%2Fsessions&fresh=1")
        login_page = erin.get(start.headers["location"], follow_redirects=True)
        assert FORM_ACTION.search(login_page.text), "the provider did not ask again"
        answer = erin.get(submit_login_form(erin, login_page, "erin"))
        assert answer.headers["location"] == "/admin/sessions"
        ended = erin.post(
            portal.url + "/admin/sessions/revoke",
            data={"user": "carol", "csrf_token": csrf_of(erin, portal)},
        )
        assert ended.status_code == 303
        assert carol.get(portal.url + "/").status_code == 303


def test_stripping_the_fresh_sign_in_request_does_not_help(portal: Portal) -> None:
    with new_client() as erin:
        sign_in(erin, portal.url, "erin")
        age_sign_in_of(portal, "erin", 45)
        time.sleep(2.5)  # the provider's own auth_time must be older than the request
        start = erin.get(portal.url + "/login?next=%2Fadmin%2Fsessions&fresh=1")
        target = urlsplit(start.headers["location"])
        query = parse_qs(target.query)
        assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
        del query["prompt"], query["max_age"]
        stripped = target._replace(query=urlencode(query, doseq=True)).geturl()
        # The provider's session is alive, so without the parameters it does not ask.
        answer = erin.get(stripped, follow_redirects=False)
        while answer.is_redirect and "/auth/callback" not in answer.headers["location"]:
            answer = erin.get(urljoin(str(answer.url), answer.headers["location"]))
        refused = erin.get(answer.headers["location"])
        assert refused.status_code == 400
        still_stale = erin.post(
            portal.url + "/admin/sessions/revoke",
            data={"user": "nobody", "csrf_token": csrf_of(erin, portal)},
        )
        assert still_stale.status_code == 403 and "Please sign in again" in still_stale.text
        assert erin.get(portal.url + "/").status_code == 200, "still signed in, not elevated"


def test_a_forged_callback_does_not_sign_anyone_out(portal: Portal) -> None:
    with new_client() as alice:
        sign_in(alice, portal.url, "alice")
        assert alice.get(portal.url + "/auth/callback?error=access_denied").status_code == 400
        assert alice.get(portal.url + "/auth/callback?code=x&state=y").status_code == 400
        assert alice.get(portal.url + "/").status_code == 200
