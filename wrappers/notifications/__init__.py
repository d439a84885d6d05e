"""The notifications tool: the bell in the navigation bar and the list behind it.

Everything goes through verbs (notifications.list, notifications.open,
notifications.mark_seen); this package holds only pages. The bell itself is part of
every page (templates/base.html), so the tool has no link or card of its own.
"""

from starlette.routing import BaseRoute

from app.tools import Tool
from wrappers.notifications import pages

routes: list[BaseRoute] = [*pages.routes]

tool = Tool(
    name="notifications",
    title="Notifications",
    url="",
    routes=routes,
    uses=("notifications.list", "notifications.mark_seen", "notifications.open"),
    order=90,
)

__all__ = ["routes", "tool"]
