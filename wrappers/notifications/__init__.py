"""The notifications tool: the bell in the navigation bar and the list behind it.

Everything goes through verbs (notifications.list, notifications.open,
notifications.mark_seen), which the tool brings. The notifications themselves are
the portal's shared service (app/notify: any tool may tell a person something); the
bell is this tool's place in every page's navigation bar (``nav_item``), redrawn
live by ``fragments``.
"""

from starlette.routing import BaseRoute

from app.tools import Tool
from wrappers.notifications import fragments, pages
from wrappers.notifications.verbs import VERBS

routes: list[BaseRoute] = [*pages.routes]

tool = Tool(
    name="notifications",
    title="Notifications",
    url="",
    routes=routes,
    templates=__name__,
    nav_item="notifications/_nav.html",
    verbs=VERBS,
    uses=("notifications.list", "notifications.mark_seen", "notifications.open"),
    kinds=("notification",),
    # Each person reads and marks only their own.
    policy=("p, user, *, notification:{sub}/**, (read|write)",),
    renderers=fragments.RENDERERS,
    order=90,
)

__all__ = ["routes", "tool"]
