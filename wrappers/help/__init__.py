"""The Help tool: ask for help without leaving the portal; staff answer in a queue.

Everything that is its own is here and declared in ``tool`` below:
- "Get help" on every signed-in page (``Tool.page_action``), leading to the form
  filled with what every tool says about that page (``Tool.page_context``, asked in
  ``context``; the help tool imports no other tool), each section untickable;
- pages (``pages``): My questions, one question's thread, the staff queue;
- verbs (``verbs``) on the ``ticket`` and ``helpdesk`` kinds, with their rules: each
  person her own tickets, a project's members those shared with it, staff all;
- its tables (``models``), settings (``settings``: help-desk address, canned
  answers, limits), safe Markdown and secret removal (``text``);
- live threads and queue (``live``), followed over /ws and redrawn as the viewer;
- the e-mail bridge (``mail``): copies to the site's help desk, and its replies
  taken back by an optional SMTP listener.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute

from app.tools import Card, Tool
from app.verbs import Services
from wrappers.help import pages, verbs
from wrappers.help.live import follow
from wrappers.help.mail import MAIL_SERVICE, listening
from wrappers.help.models import HelpImage, HelpMessage, HelpTicket
from wrappers.help.service import Help
from wrappers.help.settings import HelpSettings, help_settings
from wrappers.help.store import HelpStore
from wrappers.help.views import STATE_WORDS
from wrappers.request import verb_gate, viewer

routes: list[BaseRoute] = [*pages.routes]


async def card_context(request: Request) -> dict[str, Any]:
    listed = await verb_gate(request).call(viewer(request), "help.mine")
    return {"help_tickets": listed.tickets[:5], "help_state_words": STATE_WORDS}


async def provide(services: Services) -> Help:
    return Help(HelpStore(services.database), help_settings(services.settings))


@contextlib.asynccontextmanager
async def announcing(app: Starlette) -> AsyncIterator[None]:
    """Hand the portal's bus to the announcer, for as long as the portal runs."""
    help_ = app.state.extensions.get(Help)
    if help_ is None:  # pragma: no cover - provide() runs before every lifespan
        yield
        return
    help_.announcer.bus = app.state.bus
    try:
        async with listening(
            app.state.verbs, help_.store, help_.settings, app.state.settings.mail.from_address
        ):
            yield
    finally:
        help_.announcer.bus = None


tool = Tool(
    name="help",
    title="Help",
    url="/help",
    routes=routes,
    templates=__name__,
    card=Card("help/_card.html", card_context),
    page_action="help/_get_help.html",
    verbs=verbs.VERBS,
    # files.stat: a file she points to is checked as her first; files.read: staff
    # open it through her question (help.attachment), as her.
    uses=("help.mine", "help.show", "help.queue", "help.canned", "files.stat", "files.read"),
    kinds=("ticket", "helpdesk"),
    # The incoming mail listener adds the help desk's replies as its own principal.
    principals=(MAIL_SERVICE,),
    # ticket:<author>/<id>: she asks, reads, answers, solves or reopens her own and
    # gives or takes back consent; members read what she shared with their project
    # (the ticket is asked about in that project's domain); staff read and answer
    # every ticket, note, assign and change states, see what she sees while she consents
    # (view), open the files she attached, as her (attachment; never a project's
    # members), and read the queue. Admins hold
    # every rule already.
    policy=(
        "p, user, *, ticket:{sub}/**, (ask|read|reply|state|consent|attachment)",
        "p, member, *, ticket:**, read",
        "p, staff, *, ticket:**, (read|reply|note|assign|state|view|attachment)",
        "p, staff, *, helpdesk:**, read",
        f"p, {MAIL_SERVICE}, *, ticket:**, mailreply",
    ),
    followers={"help": follow},
    lifespan=announcing,
    settings=HelpSettings,
    models=(HelpTicket, HelpMessage, HelpImage),
    provides=provide,
    order=80,
)

__all__ = ["routes", "tool"]
