"""The folder page's live part: fresh rows while a folder is open in a tab.

The page sends ``{"watch": folder, "order": ..., ...}`` over its /ws socket (htmx
``ws-send``, from files/_listing.html); /ws runs ``follow`` for it (registered in
``app.state.followers``). ``follow`` waits through the ``files.watch`` verb, which
the person's own agent answers when the folder changes (or after 25 s, when it is
asked again: so nothing is watched once the tab is gone). On a change it redraws the
listing with the page's own sort and filter as an out-of-band swap.

Every wait is a verb call, so each open folder tab adds one audit record per change
or per 25 s.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.websockets import WebSocket

from app.logs import get_logger
from app.realtime.ws import Send
from app.security.sessions import Identity, session_of
from app.verbs import ErrorKind, VerbError
from managers.words import size_words
from wrappers.files.browse import ORDERS, PAGE, listing_context, page_arguments
from wrappers.files.common import date_words, url
from wrappers.request import verb_gate

log = get_logger("onestop.files.live")

WAIT_SECONDS = 25.0
# However busy the folder (a job writing output), at most one redraw per second.
REFRESH_SECONDS = 1.0
# When her agent cannot take another wait, or is being restarted.
RETRY_SECONDS = 30.0


def _options(message: dict[str, Any]) -> dict[str, Any]:
    order = message.get("order")
    return {
        "order": order if order in ORDERS else "name",
        "desc": message.get("desc") is True,
        "hidden": message.get("hidden") is True,
        "q": str(message.get("q") or "")[:255],
    }


async def follow(
    websocket: WebSocket,
    identity: Identity,
    message: dict[str, Any],
    send: Send,
) -> None:
    """Redraw the listing whenever the folder changes, until cancelled."""
    folder = message.get("watch")
    if not isinstance(folder, str) or not folder:
        return
    try:
        await _follow(websocket, identity, folder, _options(message), send)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # the tab just stops being live; it still works
        log.warning("live_folder_ended", user=identity.unix_name, error=repr(error))


async def _follow(
    websocket: WebSocket, identity: Identity, folder: str, options: dict[str, Any], send: Send
) -> None:
    verbs = verb_gate(websocket)
    csrf = str(session_of(websocket.scope).data.get("csrf", ""))
    template = websocket.app.state.templates.get_template("files/_listing.html")
    version = 0
    while True:
        try:
            watched = await verbs.call(
                identity, "files.watch", path=folder, seconds=WAIT_SECONDS, since=version
            )
        except VerbError as error:
            if error.kind is not ErrorKind.UNAVAILABLE:
                return  # not hers to list, gone, or no longer a folder she may read
            # Her agent is not answering, or holds as many waits as it takes ("busy").
            await asyncio.sleep(RETRY_SECONDS)
            continue
        version = watched.version
        if not watched.changed:
            continue
        try:
            listing = await verbs.call(
                identity,
                "files.page",
                path=folder,
                **page_arguments(options),
                limit=PAGE,
            )
        except VerbError:
            return
        context = listing_context(listing, options)
        helpers = {"url": url, "size_words": size_words, "date_words": date_words}
        html = template.render({**context, **helpers, "csrf": csrf})
        await send(f'<div id="listing" hx-swap-oob="innerHTML">{html}</div>')
        await asyncio.sleep(REFRESH_SECONDS)
