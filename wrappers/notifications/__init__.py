"""The notifications tool: the bell in the navigation bar and the list behind it.

Everything goes through verbs (notifications.list, notifications.open,
notifications.mark_seen); this package holds only pages.
"""

from starlette.routing import BaseRoute

from wrappers.notifications import pages

routes: list[BaseRoute] = [*pages.routes]

__all__ = ["routes"]
