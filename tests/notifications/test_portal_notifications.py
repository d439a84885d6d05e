"""Through a real portal: alice asks to be e-mailed, her job ends, exactly one message
reaches the SMTP server; the notification waits on /notifications (hers, not bob's)
until she opens it or marks all seen. A mail server that is down is tried again.

Other suites may run alice's and bob's jobs on this cluster at the same time (and
this portal notices those too), so the tests follow their own jobs' notifications
rather than exact counts."""

from __future__ import annotations

import re
import time
import uuid

from tests.conftest import Portal
from tests.helpers import signed_in, wait_until
from tests.notifications.conftest import (
    Smtp,
    csrf_of,
    portal_log_events,
    submit_from_portal,
    unseen,
)

IDS = re.compile(r'data-id="(\d+)"')


def seen_state(page: str, notification: int) -> str:
    match = re.search(rf'data-id="{notification}" data-seen="(\w+)"', page)
    assert match, f"notification {notification} is not on the page"
    return match.group(1)


def notification_ids(page: str, job: str) -> list[int]:
    """The ids of the list items that mention ``job``."""
    return [
        int(match.group(1))
        for match in IDS.finditer(page)
        if f"Job {job} " in page[match.end() : match.end() + 600]
    ]


def test_alice_gets_one_mail_and_a_notification_bob_does_not(
    notify_portal: Portal, smtp: Smtp
) -> None:
    portal = notify_portal
    address = f"alice-{uuid.uuid4().hex[:6]}@onestop.test"
    with signed_in(portal.url, "alice") as alice, signed_in(portal.url, "bob") as bob:
        job = submit_from_portal(
            alice, portal, "mailme", "#!/bin/bash\necho working\nsleep 2\nexit 3\n", mail=address
        )
        (message,) = smtp.inbox.wait_for(address, timeout=60)
        assert message["Subject"] == f"Job {job} 'mailme' failed with exit code 3"
        assert message["From"] == "portal@onestop.test"
        body = message.get_payload(decode=True).decode()
        assert body.startswith("Hello Alice Anderson,")
        assert f"Your job {job} 'mailme' finished: failed with exit code 3." in body
        assert f"{portal.url}/jobs/{job}" in body
        # Waited out on purpose, not for readiness: the hook's follow-up readings and a
        # regular one pass, and there is still one message.
        time.sleep(6)
        assert len(smtp.inbox.to(address)) == 1

        assert unseen(alice, portal) >= 1
        page = alice.get(portal.url + "/notifications").text
        (notification,) = notification_ids(page, job)
        assert "finished: failed with exit code 3." in page
        assert seen_state(page, notification) == "false"
        # Not bob's: not on his list, and he cannot open hers.
        assert f"Job {job} " not in bob.get(portal.url + "/notifications").text
        refused = bob.post(
            f"{portal.url}/notifications/{notification}/open",
            data={"csrf_token": csrf_of(bob, portal)},
        )
        assert refused.status_code == 404 and "no such notification" in refused.text
        page = alice.get(portal.url + "/notifications").text
        assert seen_state(page, notification) == "false"

    # A closed and reopened browser (a new session) still shows it unseen.
    with signed_in(portal.url, "alice") as again:
        before = unseen(again, portal)
        assert before >= 1
        assert seen_state(again.get(portal.url + "/notifications").text, notification) == "false"
        opened = again.post(
            f"{portal.url}/notifications/{notification}/open",
            data={"csrf_token": csrf_of(again, portal)},
        )
        assert opened.status_code == 303 and opened.headers["location"] == f"/jobs/{job}"
        assert seen_state(again.get(portal.url + "/notifications").text, notification) == "true"
        assert unseen(again, portal) <= before  # less one (unless another job just ended)


def test_mark_all_as_seen_needs_the_csrf_token_and_clears_the_count(
    notify_portal: Portal,
) -> None:
    portal = notify_portal
    with signed_in(portal.url, "alice") as alice:
        jobs = [
            submit_from_portal(alice, portal, f"quick{n}", "#!/bin/bash\ntrue\n") for n in range(2)
        ]

        def mine() -> list[int]:
            page = alice.get(portal.url + "/notifications").text
            return [i for job in jobs for i in notification_ids(page, job)]

        ids = wait_until(lambda: len(found := mine()) == 2 and found, 60)
        refused = alice.post(portal.url + "/notifications/seen", data={"csrf_token": "wrong"})
        assert refused.status_code == 403
        page = alice.get(portal.url + "/notifications").text
        assert [seen_state(page, i) for i in ids] == ["false", "false"]
        assert "Mark all as seen" in page
        done = alice.post(
            portal.url + "/notifications/seen", data={"csrf_token": csrf_of(alice, portal)}
        )
        assert done.status_code == 303
        page = alice.get(portal.url + "/notifications").text
        assert [seen_state(page, i) for i in ids] == ["true", "true"]


def test_a_mail_server_that_is_down_is_tried_again_later(notify_portal: Portal, smtp: Smtp) -> None:
    portal = notify_portal
    address = f"retry-{uuid.uuid4().hex[:6]}@onestop.test"
    smtp.stop()
    try:
        with signed_in(portal.url, "alice") as alice:
            job = submit_from_portal(alice, portal, "retry", "#!/bin/bash\ntrue\n", mail=address)
        wait_until(
            lambda: [e for e in portal_log_events(portal, "mail_failed") if e["job"] == job], 60
        )
    finally:
        smtp.start()
    (message,) = smtp.inbox.wait_for(address, timeout=30)
    assert message["Subject"] == f"Job {job} 'retry' finished"
    (sent,) = [e for e in portal_log_events(portal, "mail_sent") if e["job"] == job]
    assert sent["attempt"] >= 2 and sent["user"] == "alice"
    # The watcher went on meanwhile: the portal still answers and reads the cluster.
    with signed_in(portal.url, "bob") as bob:
        assert bob.get(portal.url + "/jobs").status_code == 200
