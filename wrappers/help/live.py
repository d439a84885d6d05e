"""Live help pages: a ticket's thread and the staff queue redraw themselves when
something changes, without reloading.

A verb that changes a ticket announces it on the bus (``Announcer``): on the ticket's
own channel and on the queue's. Nothing about the ticket travels there but its id, so
the bus never carries what a subscriber may not see. A page asks to follow over its
``/ws`` (``{"help": "ticket:<id>"}`` or ``{"help": "queue"}``); the follower first asks
the gate, as the viewer, for the ticket or the queue (a refusal ends it: bob following
alice's ticket gets nothing), then redraws by asking the gate again at each change, so
policy applies to every fragment sent.
"""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocket

from app.logs import get_logger
from app.realtime.bus import EventBus
from app.realtime.ws import Send
from app.security.sessions import Identity
from app.verbs import VerbError
from wrappers.help.models import HelpTicket
from wrappers.help.text import markdown
from wrappers.help.views import STATE_WORDS

__all__ = ["Announcer", "follow", "ticket_channel"]

log = get_logger("onestop.help")

QUEUE_CHANNEL = "help.queue"


def ticket_channel(ticket_id: str) -> str:
    return f"help.ticket.{ticket_id}"


class Announcer:
    """Publishes ticket changes once the portal's bus is there (the tool's lifespan
    hands it over); before that, and in a gate built without a bus, it stays quiet."""

    def __init__(self) -> None:
        self.bus: EventBus | None = None

    async def ticket_changed(self, row: HelpTicket, what: str) -> None:
        if self.bus is None:
            return
        payload = {"kind": "help", "ticket": row.id, "what": what}
        await self.bus.publish(ticket_channel(row.id), payload)
        await self.bus.publish(QUEUE_CHANNEL, payload)


async def follow(
    websocket: WebSocket, identity: Identity, message: dict[str, Any], send: Send
) -> None:
    """Redraw the followed ticket's thread (or the queue) at every change, as the viewer."""
    asked = message.get("help")
    if not isinstance(asked, str):
        return
    gate = websocket.app.state.verbs
    templates = websocket.app.state.templates
    bus: EventBus = websocket.app.state.bus
    filters = {k: message.get(k, "") for k in ("state", "person", "project")}

    async def draw() -> str | None:
        try:
            if asked == "queue":
                listed = await gate.call(
                    identity,
                    "help.queue",
                    state=filters["state"] or "",
                    person=filters["person"] or "",
                    project=filters["project"] or "",
                    older_than_days=int(message.get("older_than_days") or 0),
                )
                template = templates.get_template("help/_queue.html")
                return str(template.render(tickets=listed.tickets, oob=True))
            view = await gate.call(identity, "help.show", ticket_id=asked.removeprefix("ticket:"))
        except (VerbError, ValueError):
            return None
        template = templates.get_template("help/_thread.html")
        return str(
            template.render(ticket=view, oob=True, markdown=markdown, state_words=STATE_WORDS)
        )

    if asked != "queue" and not asked.startswith("ticket:"):
        return
    channel = QUEUE_CHANNEL if asked == "queue" else ticket_channel(asked.removeprefix("ticket:"))
    if await draw() is None:  # not hers to see: nothing is followed
        return
    async with bus.subscribe(channel) as events:
        async for _event in events:
            fragment = await draw()
            if fragment is None:
                return
            await send(fragment)
