"""``/ws``: one WebSocket per tab, pushing htmx out-of-band fragments.

Same shape as every WebSocket endpoint here: check, accept, then a receiver, a
sender and a session watcher run together; when one ends, the others are cancelled.

A page may also ask for something live of its own by sending a message (htmx
``ws-send``): a tool registers a follower for the message's key in
``app.state.followers`` (the files tool: ``watch``, a folder open in the tab), and
the socket runs it until the page asks for something else or goes away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.logs import get_logger
from app.realtime.bus import EventBus, cluster_channel, project_channel, user_channel
from app.realtime.fragments import cluster_event, render_event
from app.realtime.together import until_one_ends
from app.security.sessions import Identity, session_of

log = get_logger("onestop.ws")

SESSION_CHECK_SECONDS = 10.0

Send = Callable[[str], Awaitable[None]]
# follower(websocket, viewer, message, send): sends fragments until cancelled.
Follower = Callable[[WebSocket, Identity, dict[str, Any], Send], Coroutine[Any, Any, None]]


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
    sending = asyncio.Lock()  # the sender and a follower share one socket

    async def send_text(text: str) -> None:
        async with sending:
            await websocket.send_text(text)

    async def receive() -> None:
        followers: dict[str, Follower] = getattr(websocket.app.state, "followers", {})
        following: tuple[str, asyncio.Task[None]] | None = None
        try:
            while True:
                text = await websocket.receive_text()
                try:
                    message = json.loads(text) if len(text) <= 16384 else None
                except ValueError:
                    message = None
                if not isinstance(message, dict):
                    continue
                message.pop("HEADERS", None)
                key = next((key for key in message if key in followers), None)
                if key is None:
                    continue
                asked = json.dumps(message, sort_keys=True)
                if following is not None and following[0] == asked and not following[1].done():
                    continue  # the same page asking again (its fragment reloaded)
                if following is not None:
                    following[1].cancel()
                task = asyncio.create_task(followers[key](websocket, identity, message, send_text))
                following = (asked, task)
        except WebSocketDisconnect:
            return
        finally:
            if following is not None:
                following[1].cancel()

    async def send() -> None:
        # Projects whose events this viewer may see, each tool asking its policy
        # (Tool.project_access), decided once per socket.
        projects: dict[str, bool] = {}
        for access in websocket.app.state.project_access:
            for project, may_act in (await access(websocket, identity)).items():
                projects[project] = projects.get(project, False) or may_act
        channels = (
            cluster_channel(),
            user_channel(identity.unix_name),
            *(project_channel(project) for project in projects),
        )
        verbs = websocket.app.state.verbs
        async with bus.subscribe(*channels) as events:
            # Whatever changed between the page's render and this connection, catch up.
            view = await verbs.call(identity, "cluster.snapshot")
            cache = websocket.app.state.fragments
            if view.snapshot is not None:
                caught_up = [cluster_event(view.snapshot)]
                for catch_up in websocket.app.state.catch_ups:
                    caught_up += await catch_up(verbs, identity, view.snapshot, list(projects))
                for event in caught_up:
                    fragment = render_event(
                        templates, identity, event, csrf, projects, renderers=cache.renderers
                    )
                    if fragment is not None:
                        await send_text(fragment)
            async for event in events:
                fragment = cache.render(templates, identity, event, csrf, projects)
                if fragment is not None:
                    await send_text(fragment)

    async def watch_session() -> None:
        """A revoked or expired session stops receiving anything within seconds."""
        store = websocket.app.state.sessions
        id_hash = session_of(websocket.scope).id_hash
        while id_hash is not None:
            if not await store.still_valid(id_hash):
                break
            await asyncio.sleep(SESSION_CHECK_SECONDS)  # a database check, not an event
        await websocket.close(code=4401)

    for error in await until_one_ends(receive(), send(), watch_session()):
        # A peer that went away mid-send is ordinary; anything else is logged, and the
        # browser reconnects. Never a traceback at the viewer.
        if not isinstance(error, WebSocketDisconnect | RuntimeError):
            log.warning("ws_ended_with_error", user=identity.unix_name, error=repr(error))
