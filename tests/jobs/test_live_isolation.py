"""Over the WebSocket, bob hears nothing of alice's jobs; alice hears all of them."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time

from tests.conftest import Portal
from tests.helpers import new_client, portal_socket, sign_in, submit_as

COOKIE = "onestop_session"


def cookie_of(portal: Portal, user: str) -> str:
    with new_client() as client:
        assert sign_in(client, portal.url, user).status_code == 303
        return str(client.cookies[COOKIE])


async def listen(
    portal: Portal, cookie: str, job: str, seconds: float, subscribed: asyncio.Event
) -> tuple[list[str], bool]:
    """Everything the socket receives for ``seconds``, and whether ``job`` ended in it.
    ``subscribed`` is set at the first message: the catch-up the portal sends once the
    socket is subscribed to its channels."""
    received: list[str] = []
    async with portal_socket(portal.url, cookie, COOKIE) as ws:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                received.append(str(await asyncio.wait_for(ws.recv(), left)))
                subscribed.set()
            except TimeoutError:
                break
    ended = any(f'id="job-status-{job}"' in m and 'data-state="cancelled"' in m for m in received)
    return received, ended


def test_job_events_reach_their_owner_only(portal: Portal) -> None:
    alice, bob = cookie_of(portal, "alice"), cookie_of(portal, "bob")
    job = submit_as("alice", "--job-name=private-run", "--wrap", "sleep 300")

    async def scenario() -> tuple[tuple[list[str], bool], tuple[list[str], bool]]:
        ready = asyncio.Event(), asyncio.Event()

        async def stop_once_both_listen() -> None:
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 10)
            await asyncio.to_thread(
                subprocess.run, ["runuser", "-u", "alice", "--", "scancel", job], check=True
            )

        listeners = asyncio.gather(
            listen(portal, alice, job, 12, ready[0]),
            listen(portal, bob, job, 12, ready[1]),
            stop_once_both_listen(),
        )
        heard_alice, heard_bob, _ = await listeners
        return heard_alice, heard_bob

    try:
        (_, alice_saw_end), (bob_heard, _) = asyncio.run(scenario())
    finally:
        subprocess.run(["scancel", job], check=False)
    assert alice_saw_end, "alice's own page follows her job to its end"
    assert bob_heard, "bob's socket works (he gets the cluster's news)"
    # The id as a number of its own: "58" inside the clock's "20:18:58" is not the job.
    named = re.compile(rf"(?<![\w:.-]){re.escape(job)}(?![\w:.-])")
    for message in bob_heard:
        assert not named.search(message) and "private-run" not in message, message[:300]
