"""The e-mail bridge: questions and replies copied to the site's help desk (RT, OTRS,
ServiceNow take e-mail), and the help desk's replies taken back into the thread.

Out: each new question and each reply (never a staff note) goes to
``helpdesk_address`` through the portal's own mailer (app/notify), with a
Message-ID per message, In-Reply-To the question's first, and a Reply-To that
carries the question's token (``help+<token>@domain``).

In: an optional SMTP listener (aiosmtpd) takes mail for those addresses. It refuses
a recipient whose token names no question (at RCPT) and a message not sent by the
help desk's address (envelope and From header both), and hands what it accepts to
the ``help.mail_reply`` verb as ``service:help-mail``: the gate decides and audits.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Coroutine
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, TypeVar

from app.logs import get_logger
from app.notify.mailer import MailError
from app.verbs import VerbError
from wrappers.help.models import HelpMessage, HelpTicket
from wrappers.help.settings import HelpSettings

__all__ = ["MAIL_SERVICE", "copy_to_desk", "listening", "reply_address", "reply_text"]

log = get_logger("onestop.help")

MAIL_SERVICE = "service:help-mail"
TOKEN = re.compile(r"^[0-9a-f]{32}$")
_sending: set[asyncio.Task[None]] = set()
T = TypeVar("T")


def _base(settings: HelpSettings, from_address: str) -> tuple[str, str]:
    local, _, domain = (settings.reply_address or from_address).partition("@")
    return local or "help", domain or "localhost"


def reply_address(settings: HelpSettings, from_address: str, token: str) -> str:
    local, domain = _base(settings, from_address)
    return f"{local}+{token}@{domain}"


def token_of(settings: HelpSettings, from_address: str, recipient: str) -> str | None:
    """The token a recipient address carries, or None when it is not one of ours."""
    local, domain = _base(settings, from_address)
    name, _, at = parseaddr(recipient)[1].lower().partition("@")
    prefix, plus, token = name.partition("+")
    if at != domain.lower() or prefix != local.lower() or not plus or not TOKEN.match(token):
        return None
    return token


def _message_id(row: HelpTicket, number: int | None, domain: str) -> str:
    return f"<help-{row.id}-{number or 0}@{domain}>"


async def copy_to_desk(
    services: Any, settings: HelpSettings, row: HelpTicket, message: HelpMessage, first: bool
) -> None:
    """Send a copy to the help desk in the background (a slow server never holds up
    her click); nothing when no address is set or mail is off."""
    notifier = services.notifier
    if not settings.helpdesk_address or notifier is None or not notifier.mailer.enabled:
        return
    mailer = notifier.mailer
    from_address = mailer.settings.from_address
    _, domain = _base(settings, from_address)
    # The question's first message is <help-<id>-0@domain>; each reply names it.
    headers = {
        "Message-ID": _message_id(row, 0 if first else message.id, domain),
        "Reply-To": reply_address(settings, from_address, row.token),
        "X-Onestop-Ticket": row.id,
    }
    if not first:
        headers["In-Reply-To"] = headers["References"] = _message_id(row, 0, domain)
    who = "asked" if first else "wrote"
    text = (
        f"{message.author} {who} on the cluster portal:\n\n{message.body}\n\n"
        f"The question: {notifier.public_url}/help/{row.id}\n"
        "Reply to this message to answer in the portal.\n"
    )
    subject = f"[help {row.id}] {'' if first else 'Re: '}{row.title[:150]}"

    async def send() -> None:
        try:
            await mailer.send(settings.helpdesk_address, subject, text, headers)
        except MailError as error:
            log.warning("help_mail_failed", ticket=row.id, detail=error.detail)

    task = asyncio.ensure_future(send())
    _sending.add(task)
    task.add_done_callback(_sending.discard)


QUOTE_START = re.compile(r"^(>|On .+ wrote:$|-----Original Message-----)")


def reply_text(message: EmailMessage) -> str:
    """Its plain text, without the quoted message below it."""
    part = message.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else ""
    kept: list[str] = []
    for line in str(text).splitlines():
        if QUOTE_START.match(line.strip()):
            break
        kept.append(line)
    return "\n".join(kept).strip()


class ReplyHandler:
    """aiosmtpd's handler: RCPT checks the token, DATA the sender, then the verb.

    aiosmtpd runs in a thread with an event loop of its own; the database and the
    gate belong to the portal's loop, so each lookup and call is run there."""

    def __init__(
        self,
        gate: Any,
        store: Any,
        settings: HelpSettings,
        from_address: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.gate, self.store, self.settings = gate, store, settings
        self.from_address, self.loop = from_address, loop

    async def _on_portal(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        token = token_of(self.settings, self.from_address, address)
        if token is None or await self._on_portal(self.store.by_token(token)) is None:
            log.warning("help_mail_refused", why="recipient", recipient=address[:320])
            return "550 No such question here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        sender = parseaddr(str(message.get("From", "")))[1].lower()
        desk = self.settings.helpdesk_address.lower()
        if not desk or sender != desk or str(envelope.mail_from).lower() != desk:
            log.warning("help_mail_refused", why="sender", sender=sender[:320])
            return "550 Replies are taken from the help desk's address only"
        text = reply_text(message)
        for recipient in envelope.rcpt_tos:
            token = token_of(self.settings, self.from_address, recipient) or ""
            row = await self._on_portal(self.store.by_token(token))
            if row is None:
                continue
            try:
                await self._on_portal(
                    self.gate.call_as_service(
                        MAIL_SERVICE,
                        row.author,
                        "help.mail_reply",
                        token=token,
                        sender=sender,
                        text=text,
                    )
                )
            except VerbError as error:
                log.warning("help_mail_refused", why=error.kind.value, ticket=row.id)
                return f"550 {error.message}"
        return "250 Message accepted"


@contextlib.asynccontextmanager
async def listening(
    gate: Any, store: Any, settings: HelpSettings, from_address: str
) -> AsyncIterator[None]:
    """The incoming listener while the portal runs, when ``listen_port`` is set."""
    if not settings.listen_port:
        yield
        return
    from aiosmtpd.controller import Controller  # only where a site runs the listener

    handler = ReplyHandler(gate, store, settings, from_address, asyncio.get_running_loop())
    controller = Controller(handler, hostname=settings.listen_host, port=settings.listen_port)
    await asyncio.to_thread(controller.start)
    log.info("help_mail_listening", host=settings.listen_host, port=settings.listen_port)
    try:
        yield
    finally:
        await asyncio.to_thread(controller.stop)
