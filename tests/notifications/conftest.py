"""A portal that sends e-mail to a real SMTP server (aiosmtpd, on a free port of this
machine) and learns of job starts and ends from the demo cluster's Slurm hook alone:
its regular readings are 20 s apart, so anything quicker came through the hook."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
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
from tests.helpers import job_form, new_client, post_job, sign_in

# A second portal next to the suite's own (TEST_PORT): this folder's, with mail and a
# slow poll. The identity provider accepts the ports up to 8019.
NOTIFY_PORT = TEST_PORT + 1
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
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {address} within {timeout} s")
            time.sleep(0.2)
        return self.to(address)


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


@contextlib.contextmanager
def signed_in(portal: Portal, who: str) -> Iterator[httpx.Client]:
    with new_client() as client:
        assert sign_in(client, portal.url, who).is_redirect
        yield client


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


def wait_until(check: Any, timeout: float = 60, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(every)


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
