"""A portal that sends e-mail to a real SMTP server (aiosmtpd, on a free port of this
machine) and learns of job starts and ends from the demo cluster's Slurm hook alone:
its regular readings are 20 s apart, so anything quicker came through the hook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import TEST_PORT, Portal, running_portal
from tests.helpers import job_form, post_job, wait_until

# A second portal next to the suite's own (TEST_PORT): this folder's, with mail and a
# slow poll, on the second portal's port (README: the port plus 10), so that it never
# takes the port of a checkout running the suite beside this one.
NOTIFY_PORT = TEST_PORT + 10
POLL_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 60) -> list[Message]:
        """The messages to ``address`` once there are ``count`` of them."""
        return wait_until(lambda: len(found := self.to(address)) >= count and found, timeout)


@dataclass
class Smtp:
    port: int
    inbox: Inbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="package")
def smtp() -> Iterator[Smtp]:
    server = Smtp(free_port(), Inbox())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def notify_portal(
    cluster: None, idp: str, smtp: Smtp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with running_portal(
        tmp_path_factory.mktemp("notify-portal"),
        NOTIFY_PORT,
        ONESTOP_MAIL__ENABLED="true",
        ONESTOP_MAIL__HOST="127.0.0.1",
        ONESTOP_MAIL__PORT=str(smtp.port),
        ONESTOP_MAIL__FROM_ADDRESS="portal@onestop.test",
        ONESTOP_MAIL__RETRY_SECONDS=json.dumps([1, 2, 4]),
        ONESTOP_SLURM__POLL_INTERVAL_SECONDS=str(POLL_SECONDS),
        ONESTOP_SLURM__IDLE_POLL_INTERVAL_SECONDS=str(POLL_SECONDS),
    ) as portal:
        yield portal


def csrf_of(client: httpx.Client, portal: Portal) -> str:
    page = client.get(portal.url + "/")
    return page.text.split('name="csrf-token" content="')[1].split('"')[0]


def submit_from_portal(
    client: httpx.Client, portal: Portal, name: str, script: str, mail: str = ""
) -> str:
    """Through the submission form, as a browser would post it; returns the job id."""
    form = job_form(client, portal.url, script, name=name, mail_on_end=mail)
    return post_job(client, portal.url, form)


def unseen(client: httpx.Client, portal: Portal) -> int:
    bell = client.get(portal.url + "/notifications/bell").text
    return int(bell.split('data-unseen="')[1].split('"')[0])


def portal_log_events(portal: Portal, event: str) -> list[dict[str, Any]]:
    found = []
    for line in Path(portal.log).read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event:
            found.append(record)
    return found
