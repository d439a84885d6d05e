"""Sending e-mail through the site's SMTP server (aiosmtplib: asyncio, no thread).

One function per message; retrying is the caller's business (see notifier.py), so
a server that is down costs a log line and a later attempt, never a stuck watcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage

import aiosmtplib

from app.settings import MailSettings


class MailError(Exception):
    """The message could not be handed to the SMTP server; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Mailer:
    """Hands plain-text messages to ``settings.host``; nothing if mail is disabled."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def message(
        self, to: str, subject: str, text: str, headers: Mapping[str, str] | None = None
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = to
        message["Subject"] = subject
        # A thread's own headers (Message-ID, In-Reply-To, Reply-To: the help desk's).
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        return message

    async def send(
        self, to: str, subject: str, text: str, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send one message; raises MailError when the server refuses or is unreachable."""
        config = self.settings
        try:
            await aiosmtplib.send(
                self.message(to, subject, text, headers),
                hostname=config.host,
                port=config.port,
                username=config.username or None,
                password=config.password or None,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                timeout=config.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailError(f"{type(error).__name__}: {error}") from error
