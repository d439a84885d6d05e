"""``/ws``: one WebSocket per tab, pushing htmx out-of-band fragments.

Same shape as every WebSocket endpoint here: check, accept, then a receiver, a
sender and a session watcher run together; when one ends, the others are cancelled.
"""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.logs import get_logger
from app.realtime.bus import EventBus, cluster_channel, project_channel, user_channel
from app.realtime.fragments import current_events, render_event
from app.security.sessions import session_of
from app.web.project_jobs import project_access

log = get_logger("onestop.ws")

SESSION_CHECK_SECONDS = 10.0


def origin_allowed(websocket: WebSocket) -> bool:
    """Browsers always send Origin on WebSocket handshakes; it must be this portal."""
    expected: str = websocket.app.state.settings.origin
    return websocket.headers.get("origin") == expected


async def live(websocket: WebSocket) -> None:
    identity = session_of(websocket.scope).identity
    if identity is None:  # the sign-in guard refuses (and audits) these first
        await websocket.close(code=4401)
        return
    if not origin_allowed(websocket):
        await websocket.app.state.auditor.record(
            actor=identity.unix_name,
            action="ws.connect",
            outcome="refused",
            object="/ws",
            origin=websocket.headers.get("origin", ""),
        )
        await websocket.close(code=4403)
        return
    await websocket.accept()
    bus: EventBus = websocket.app.state.bus
    csrf = str(session_of(websocket.scope).data.get("csrf", ""))  # for forms in fragments
    templates = websocket.app.state.templates

    async def receive() -> None:
        try:
            while True:
                await websocket.receive_text()  # htmx may send form data; nothing to do yet
        except WebSocketDisconnect:
            return

    async def send() -> None:
        # Projects whose jobs this viewer may see (decided once, by policy, per socket).
        projects = await project_access(websocket, identity)
        channels = (
            cluster_channel(),
            user_channel(identity.unix_name),
            *(project_channel(project) for project in projects),
        )
        verbs = websocket.app.state.verbs
        async with bus.subscribe(*channels) as events:
            # Whatever changed between the page's render and this connection, catch up.
            view = await verbs.call(identity, "cluster.snapshot")
            shared = [await verbs.call(identity, "jobs.project", project=p) for p in projects]
            if view.snapshot is not None:
                for event in current_events(view.snapshot, identity.unix_name, shared):
                    fragment = render_event(templates, identity, event, csrf, projects)
                    if fragment is not None:
                        await websocket.send_text(fragment)
            cache = websocket.app.state.fragments
            async for event in events:
                fragment = cache.render(templates, identity, event, csrf, projects)
                if fragment is not None:
                    await websocket.send_text(fragment)

    async def watch_session() -> None:
        """A revoked or expired session stops receiving anything within seconds."""
        store = websocket.app.state.sessions
        id_hash = session_of(websocket.scope).id_hash
        while id_hash is not None:
            if not await store.still_valid(id_hash):
                break
            await asyncio.sleep(SESSION_CHECK_SECONDS)  # a database check, not an event
        await websocket.close(code=4401)

    tasks = [
        asyncio.create_task(receive()),
        asyncio.create_task(send()),
        asyncio.create_task(watch_session()),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        error = task.exception()
        # A peer that went away mid-send is ordinary; anything else is logged, and the
        # browser reconnects. Never a traceback at the viewer.
        if error is not None and not isinstance(error, WebSocketDisconnect | RuntimeError):
            log.warning("ws_ended_with_error", user=identity.unix_name, error=repr(error))
