"""Admins (members of onestop-admins, recently signed in) end other people's sessions."""

from __future__ import annotations

import sqlite3

import httpx

from tests.conftest import Portal
from tests.helpers import FORM_ACTION, new_client, sign_in, submit_login_form


def csrf_of(client: httpx.Client, portal: Portal) -> str:
    page = client.get(portal.url + "/")
    return page.text.split('name="csrf-token" content="')[1].split('"')[0]


def age_sessions_of(portal: Portal, unix_name: str, minutes: int) -> None:
    path = portal.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute(
            "update web_sessions set created_at = datetime(created_at, ?) "
            "where user_id in (select id from users where unix_name = ?)",
            (f"-{minutes} minutes", unix_name),
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


def test_admin_pages_need_a_recent_sign_in(portal: Portal) -> None:
    with new_client() as erin:
        sign_in(erin, portal.url, "erin")
        age_sessions_of(portal, "erin", 45)
        page = erin.get(portal.url + "/admin/sessions")
        assert page.status_code == 403 and "Please sign in again" in page.text
        # The provider must ask for the password again, although its session is alive.
        start = erin.get(portal.url + "/login?next=%2Fadmin%2Fsessions&fresh=1")
        login_page = erin.get(start.headers["location"], follow_redirects=True)
        assert FORM_ACTION.search(login_page.text), "the provider did not ask again"
        answer = erin.get(submit_login_form(erin, login_page, "erin"))
        assert answer.headers["location"] == "/admin/sessions"
        assert erin.get(portal.url + "/admin/sessions").status_code == 200
