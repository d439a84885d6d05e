"""The Help tool through a real portal, with real sign-in at the identity provider and
a real failing job on the demo cluster: alice asks from her job's page, unticks its
script, and sends; secrets never reach the form or the database; bob cannot reach her
question by address, WebSocket or listing, unless she shares it with their project;
carol (staff) finds it in the queue, takes it, notes and replies, and alice's page
shows the reply without reloading while the note never reaches her."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.conftest import Portal
from tests.help.conftest import csrf_of
from tests.helpers import portal_socket, signed_in, squeue, submit_as, wait_until

COOKIE = "onestop_session"
SECTION = re.compile(r'name="keep" value="([^"]+)"')


def db_of(portal: Portal) -> Path:
    return Path(portal.database_url.removeprefix("sqlite:///"))


def ticket_row(portal: Portal, ticket_id: str) -> dict[str, Any]:
    with sqlite3.connect(db_of(portal)) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM help_tickets WHERE id = ?", (ticket_id,)).fetchone()
        return dict(row)


def bodies(portal: Portal, ticket_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db_of(portal)) as db:
        rows = db.execute(
            "SELECT kind, body FROM help_messages WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        )
        return [(kind, body) for kind, body in rows]


def audited(portal: Portal, action: str, actor: str) -> list[str]:
    with sqlite3.connect(db_of(portal)) as db:
        rows = db.execute(
            "SELECT outcome FROM audit_events WHERE action = ? AND actor = ?", (action, actor)
        )
        return [outcome for (outcome,) in rows]


def audit_has(portal: Portal, action: str, actor: str, outcome: str, count: int = 1) -> bool:
    """Whether the audit shows ``count`` such rows (routine ones are written in
    batches a moment later, app/audit.py)."""
    return bool(wait_until(lambda: audited(portal, action, actor).count(outcome) >= count, 10))


def failed_job(tag: str) -> tuple[str, str]:
    """A job of alice's that fails with secrets in its script and its error output."""
    errors = f"/home/alice/help-{tag}.err"
    job = submit_as(
        "alice",
        f"--job-name=help-{tag}",
        f"--error={errors}",
        "--wrap",
        "export API_TOKEN=sekret-in-script; echo DB_PASSWORD=hunter2-in-log >&2; "
        "echo 'it broke here' >&2; exit 3",
    )
    wait_until(lambda: "FAILED" in squeue(job, "%T") or squeue(job, "%T") == "", 60)
    return job, errors


def ask(client: httpx.Client, portal: Portal, page: str, keep: list[str], **fields: str) -> str:
    answer = client.post(
        portal.url + "/help/new",
        data={
            "csrf_token": csrf_of(client, portal),
            "page": page,
            "keep": keep,
            "text": fields.pop("text", "My job failed. What happened?"),
            **fields,
        },
    )
    assert answer.status_code == 303, answer.text[:1500]
    return str(answer.headers["location"]).rsplit("/", 1)[-1]


def test_get_help_is_on_every_page(help_portal: Portal) -> None:
    with signed_in(help_portal.url, "alice") as alice:
        for page in ("/", "/jobs", "/files", "/data", "/notifications"):
            html = alice.get(help_portal.url + page).text
            assert f'href="/help/new?page={quote(page)}"' in html, page


def test_a_job_page_question_carries_what_she_kept_and_no_secret(help_portal: Portal) -> None:
    portal = help_portal
    job, errors = failed_job(uuid.uuid4().hex[:6])
    try:
        with signed_in(portal.url, "alice") as alice:
            form = alice.get(portal.url + "/help/new", params={"page": f"/jobs/{job}"})
            assert form.status_code == 200
            offered = SECTION.findall(form.text)
            assert offered == ["job", "job.script", "job.errors", "page"], offered
            assert f"Job {job}" in form.text and "it broke here" in form.text
            assert "Exit code: 3" in form.text
            for secret in ("sekret-in-script", "hunter2-in-log"):
                assert secret not in form.text
            assert "API_TOKEN=[hidden]" in form.text and "DB_PASSWORD=[hidden]" in form.text

            # She unticks the script; it is not sent, so it is never stored.
            ticket = ask(alice, portal, f"/jobs/{job}", ["job", "job.errors", "page"])
            row = ticket_row(portal, ticket)
            kept = [section["key"] for section in json.loads(row["context"])]
            assert kept == ["job", "job.errors", "page"]
            stored = json.dumps(row) + json.dumps(bodies(portal, ticket))
            assert "sekret-in-script" not in stored and "hunter2-in-log" not in stored
            page = alice.get(f"{portal.url}/help/{ticket}").text
            assert 'data-section="job.errors"' in page and 'data-section="job.script"' not in page
            assert "it broke here" in page
            assert audit_has(portal, "help.ask", "alice", "ok")
    finally:
        Path(errors).unlink(missing_ok=True)


def test_a_folder_and_her_files_as_she_may_reach_them(help_portal: Portal) -> None:
    portal = help_portal
    with signed_in(portal.url, "alice") as alice:
        form = alice.get(portal.url + "/help/new", params={"page": "/files?path=/home/alice"}).text
        assert SECTION.findall(form) == ["file", "page"]
        assert "Path: /home/alice (folder)" in form and "Owner: alice" in form
        # A file of hers is kept as a reference; one she cannot reach is refused.
        ticket = ask(
            alice, portal, "/files?path=/home/alice", ["file"], attachments="/home/alice\n"
        )
        assert json.loads(ticket_row(portal, ticket)["attachments"]) == ["/home/alice"]
        refused = alice.post(
            portal.url + "/help/new",
            data={
                "csrf_token": csrf_of(alice, portal),
                "page": "/",
                "text": "see bob's file",
                "attachments": "/home/bob/private.txt",
            },
        )
        assert refused.status_code == 400 and "/home/bob/private.txt:" in refused.text


def test_a_transfer_that_failed_is_described_without_its_password(help_portal: Portal) -> None:
    """On the Data page the form carries her transfer that did not end well: where
    from, its state and the plain reason; the password in its address never."""
    portal = help_portal
    with signed_in(portal.url, "alice") as alice:
        token = uuid.uuid4().hex
        started = alice.post(
            portal.url + "/data/import",
            data={
                "csrf_token": csrf_of(alice, portal),
                "token": token,
                "source": "url",
                "urls": "http://alice:pw-in-url-7731@127.0.0.1:9/data.csv\n",
                "target": "/home/alice",
            },
        )
        assert started.status_code == 303, started.text[-1500:]
        with sqlite3.connect(db_of(portal)) as db:
            (transfer,) = db.execute(
                "SELECT id FROM data_transfers WHERE token = ?", (token,)
            ).fetchone()

        def failed() -> bool:
            with sqlite3.connect(db_of(portal)) as db:
                (state,) = db.execute(
                    "SELECT state FROM data_transfers WHERE id = ?", (transfer,)
                ).fetchone()
            return bool(state == "failed")

        wait_until(failed, 60)
        for page in ("/data", f"/data?transfer={transfer}"):
            form = alice.get(portal.url + "/help/new", params={"page": page}).text
            assert f"transfer.{transfer}" in SECTION.findall(form), page
            assert "Import from" in form and "127.0.0.1" in form and "State: failed" in form
            assert "refused_address" in form
            assert "pw-in-url-7731" not in form
        ticket = ask(alice, portal, "/data", [f"transfer.{transfer}", "page"])
        assert "pw-in-url-7731" not in json.dumps(ticket_row(portal, ticket))


def test_limits_are_said_plainly(help_portal: Portal) -> None:
    with signed_in(help_portal.url, "alice") as alice:
        answer = alice.post(
            help_portal.url + "/help/new",
            data={"csrf_token": csrf_of(alice, help_portal), "page": "/", "text": "x" * 20_001},
        )
        assert answer.status_code == 400
        assert "20,001 characters long; the help desk takes at most 20,000" in answer.text
        empty = alice.post(
            help_portal.url + "/help/new",
            data={"csrf_token": csrf_of(alice, help_portal), "page": "/", "text": "  "},
        )
        assert empty.status_code == 400 and "Say what you were trying to do" in empty.text


def test_bob_cannot_reach_her_question_unless_shared_with_his_project(
    help_portal: Portal,
) -> None:
    portal = help_portal
    with signed_in(portal.url, "alice") as alice, signed_in(portal.url, "bob") as bob:
        private = ask(alice, portal, "/", ["page"], text="private question about chem-secret")
        assert bob.get(f"{portal.url}/help/{private}").status_code == 404
        assert private not in bob.get(f"{portal.url}/help").text
        assert bob.get(f"{portal.url}/help/queue").status_code == 403
        replied = bob.post(
            f"{portal.url}/help/{private}/reply",
            data={"csrf_token": csrf_of(bob, portal), "text": "bob was here"},
        )
        assert replied.status_code == 404
        consent = bob.post(
            f"{portal.url}/help/{private}/consent",
            data={"csrf_token": csrf_of(bob, portal), "consent": "on"},
        )
        assert consent.status_code == 404
        assert all("bob was here" not in body for _, body in bodies(portal, private))
        assert ticket_row(portal, private)["consent"] == 0
        assert audit_has(portal, "help.show", "bob", "denied")

        # Shared with chem (bob's project too): he may read it, not answer it.
        shared = ask(alice, portal, "/", ["page"], text="shared question", project="chem")
        page = bob.get(f"{portal.url}/help/{shared}")
        assert page.status_code == 200 and "shared question" in page.text
        assert (
            bob.post(
                f"{portal.url}/help/{shared}/reply",
                data={"csrf_token": csrf_of(bob, portal), "text": "member reply"},
            ).status_code
            == 404
        )
        # Not a project of hers: refused in words.
        refused = alice.post(
            portal.url + "/help/new",
            data={
                "csrf_token": csrf_of(alice, portal),
                "page": "/",
                "text": "to physics",
                "project": "physics",
            },
        )
        assert refused.status_code == 400
        assert "You are not a member of the project physics" in refused.text


async def follow(portal: Portal, cookie: str, asked: str, seconds: float) -> list[str]:
    """What a socket that asks to follow ``asked`` receives in ``seconds``."""
    received: list[str] = []
    async with portal_socket(portal.url, cookie, COOKIE) as ws:
        await ws.send(json.dumps({"help": asked}))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                received.append(str(await asyncio.wait_for(ws.recv(), left)))
            except TimeoutError:
                break
    return received


def test_staff_queue_reply_live_and_notes_stay_with_staff(help_portal: Portal) -> None:
    portal = help_portal
    marker = uuid.uuid4().hex[:8]
    with (
        signed_in(portal.url, "alice") as alice,
        signed_in(portal.url, "bob") as bob,
        signed_in(portal.url, "carol") as carol,
    ):
        cookies = {
            who: str(c.cookies[COOKIE])
            for who, c in (("alice", alice), ("bob", bob), ("carol", carol))
        }

        async def scenario() -> tuple[list[str], list[str], list[str], str]:
            # carol's queue is open before alice asks: the new question arrives live.
            queue_task = asyncio.create_task(follow(portal, cookies["carol"], "queue", 8))
            await asyncio.sleep(1.5)
            ticket = await asyncio.to_thread(
                ask, alice, portal, "/", ["page"], text=f"question {marker}"
            )
            asked = f"ticket:{ticket}"
            heard = [
                asyncio.create_task(follow(portal, cookies[who], asked, 6))
                for who in ("alice", "bob")
            ]
            await asyncio.sleep(1.5)
            token = await asyncio.to_thread(csrf_of, carol, portal)
            for action, text in (
                ("note", f"note {marker} only staff"),
                ("reply", f"reply {marker}"),
            ):
                answer = await asyncio.to_thread(
                    carol.post,
                    f"{portal.url}/help/{ticket}/{action}",
                    data={"csrf_token": token, "text": text},
                )
                assert answer.status_code == 303, answer.text[:500]
            alice_heard, bob_heard = await asyncio.gather(*heard)
            return await queue_task, alice_heard, bob_heard, ticket

        queue_heard, alice_heard, bob_heard, ticket = asyncio.run(scenario())
        assert any(f"question {marker}" in m and 'id="help-queue"' in m for m in queue_heard)
        assert any(f"reply {marker}" in m and 'id="help-thread"' in m for m in alice_heard)
        assert all(f"note {marker}" not in m for m in alice_heard), "a note reached her"
        assert all(marker not in m for m in bob_heard), "bob heard alice's question"

        # The queue and its filters; canned answers; assign; the note on staff pages only.
        queue = carol.get(f"{portal.url}/help/queue", params={"state": ""}).text
        assert f"question {marker}" in queue, queue[queue.find("<main") :][:3000]
        by_bob = carol.get(f"{portal.url}/help/queue", params={"state": "", "person": "bob"})
        assert f"question {marker}" not in by_bob.text
        old = carol.get(f"{portal.url}/help/queue", params={"state": "", "older_than_days": "1"})
        assert f"question {marker}" not in old.text
        canned = carol.get(f"{portal.url}/help/{ticket}", params={"canned": "0"}).text
        assert "Ask for more memory, for example `--mem=8G`." in canned
        taken = carol.post(
            f"{portal.url}/help/{ticket}/assign", data={"csrf_token": csrf_of(carol, portal)}
        )
        assert taken.status_code == 303
        assert ticket_row(portal, ticket)["assignee"] == "carol"
        assert f"note {marker} only staff" in carol.get(f"{portal.url}/help/{ticket}").text
        hers = alice.get(f"{portal.url}/help/{ticket}").text
        assert f"reply {marker}" in hers and f"note {marker}" not in hers
        assert "Waiting for you" in hers
        bell = alice.get(f"{portal.url}/notifications").text
        assert "carol answered your question" in bell, "a staff reply reaches her bell"
        assert ticket_row(portal, ticket)["state"] == "waiting"
        # Her answer reopens it; her consent is hers to give and take back, audited.
        alice.post(
            f"{portal.url}/help/{ticket}/reply",
            data={"csrf_token": csrf_of(alice, portal), "text": "thanks, more detail"},
        )
        assert ticket_row(portal, ticket)["state"] == "open"
        for value, expected in (("on", 1), ("", 0)):
            alice.post(
                f"{portal.url}/help/{ticket}/consent",
                data={"csrf_token": csrf_of(alice, portal), "consent": value},
            )
            assert ticket_row(portal, ticket)["consent"] == expected
        assert audit_has(portal, "help.consent", "alice", "ok", 2)
        # Staff may not note as alice: her note attempt is refused.
        assert (
            alice.post(
                f"{portal.url}/help/{ticket}/note",
                data={"csrf_token": csrf_of(alice, portal), "text": "sneaky"},
            ).status_code
            == 404
        )
