"""The e-mail bridge through real SMTP: the portal copies a new question and a reply
to the help desk's address (a real aiosmtpd server on this machine) with a
Message-ID and a Reply-To carrying the question's token; the help desk's reply, sent
over SMTP to the portal's own listener, lands in alice's thread (and her bell); a
reply to a wrong token or from another sender is refused and changes nothing."""

from __future__ import annotations

import smtplib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Portal
from tests.help.conftest import csrf_of, started
from tests.help.test_portal_help import ask, bodies, db_of
from tests.helpers import signed_in, wait_until
from tests.notifications.conftest import Inbox, free_port

DESK = "helpdesk@onestop.test"


def body(message: Message) -> str:
    return str(message.get_payload(decode=True).decode())  # type: ignore[union-attr]


@dataclass
class Bridge:
    portal: Portal
    desk: Inbox
    listener: int


@pytest.fixture(scope="module")
def bridge(cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    desk = Inbox()
    smtp_port, listen_port = free_port(), free_port()
    controller = Controller(desk, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with started(
            tmp_path_factory.mktemp("help-mail"),
            ONESTOP_MAIL__ENABLED="true",
            ONESTOP_MAIL__HOST="127.0.0.1",
            ONESTOP_MAIL__PORT=str(smtp_port),
            ONESTOP_MAIL__FROM_ADDRESS="portal@onestop.test",
            ONESTOP_HELP__HELPDESK_ADDRESS=DESK,
            ONESTOP_HELP__LISTEN_PORT=str(listen_port),
        ) as portal:
            yield Bridge(portal, desk, listen_port)
    finally:
        controller.stop()


def token_of(portal: Portal, ticket: str) -> str:
    with sqlite3.connect(db_of(portal)) as db:
        (token,) = db.execute("SELECT token FROM help_tickets WHERE id = ?", (ticket,)).fetchone()
        return str(token)


def reply(bridge: Bridge, to: str, sender: str, text: str, envelope_from: str = "") -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Re: your question"
    message.set_content(f"{text}\n\nOn Fri, alice wrote:\n> the question quoted\n")
    with smtplib.SMTP("127.0.0.1", bridge.listener, timeout=10) as client:
        client.send_message(message, from_addr=envelope_from or sender, to_addrs=[to])


def test_questions_and_replies_go_out_and_the_desks_reply_comes_in(bridge: Bridge) -> None:
    portal = bridge.portal
    with signed_in(portal.url, "alice") as alice:
        ticket = ask(alice, portal, "/", ["page"], text="My files vanished. Help?")
        token = token_of(portal, ticket)
        (first,) = bridge.desk.wait_for(DESK, 1)
        assert first["To"] == DESK and first["X-Onestop-Ticket"] == ticket
        assert first["Message-ID"] == f"<help-{ticket}-0@onestop.test>"
        assert first["Reply-To"] == f"portal+{token}@onestop.test"
        assert "My files vanished. Help?" in body(first)
        alice.post(
            f"{portal.url}/help/{ticket}/reply",
            data={"csrf_token": csrf_of(alice, portal), "text": "It was in /scratch."},
        )
        second = bridge.desk.wait_for(DESK, 2)[1]
        assert second["In-Reply-To"] == f"<help-{ticket}-0@onestop.test>"
        assert second["Message-ID"] != first["Message-ID"]
        assert "It was in /scratch." in body(second)

        # The help desk answers by e-mail, to the Reply-To address.
        reply(bridge, str(first["Reply-To"]), DESK, "Restored from last night's snapshot.")
        wait_until(lambda: len(bodies(portal, ticket)) >= 3, 15)
        thread = bodies(portal, ticket)
        assert thread[-1] == ("staff", "Restored from last night's snapshot.")
        page = alice.get(f"{portal.url}/help/{ticket}").text
        assert "Restored from last night" in page and "the question quoted" not in page
        assert "helpdesk answered your question" in alice.get(f"{portal.url}/notifications").text


def test_a_forged_reply_is_refused(bridge: Bridge) -> None:
    portal = bridge.portal
    with signed_in(portal.url, "alice") as alice:
        ticket = ask(alice, portal, "/", ["page"], text="A question to forge replies to.")
    token = token_of(portal, ticket)
    before = bodies(portal, ticket)
    wrong_token = "portal+" + "f" * 32 + "@onestop.test"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        reply(bridge, wrong_token, DESK, "forged by token")
    with pytest.raises(smtplib.SMTPDataError):
        reply(bridge, f"portal+{token}@onestop.test", "mallory@evil.test", "forged by sender")
    with pytest.raises(smtplib.SMTPDataError):  # the header says desk, the envelope not
        reply(
            bridge,
            f"portal+{token}@onestop.test",
            DESK,
            "forged envelope",
            envelope_from="mallory@evil.test",
        )
    assert bodies(portal, ticket) == before
    log = Path(portal.log).read_text()
    assert '"help_mail_refused"' in log and '"why": "sender"' in log and '"why": "recipient"' in log
