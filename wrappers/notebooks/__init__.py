"""The notebooks tool: Jupyter on the cluster's computers, reached through the portal.

Its pages (list and start form, a session's page, opening a .ipynb) use the notebook
verbs; Jupyter itself is served under ``/notebooks/<session id>/`` by the portal's
reverse proxy (app/notebook_proxy). Its lifespan runs the monitor that follows every
session from the cluster watcher's readings (app/notebooks_monitor.py).
"""

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from app.notebooks_monitor import monitoring
from app.tools import Card, Tool
from wrappers.notebooks import pages
from wrappers.request import verb_gate, viewer

routes: list[BaseRoute] = [*pages.routes]


async def card_context(request: Request) -> dict[str, Any]:
    listed = await verb_gate(request).call(viewer(request), "notebooks.list")
    return {"notebook_sessions": listed.sessions}


tool = Tool(
    name="notebooks",
    title="Notebooks",
    url="/notebooks",
    routes=routes,
    card=Card("notebooks/_card.html", card_context),
    uses=(
        "cluster.snapshot",
        "notebooks.list",
        "notebooks.show",
        "notebooks.start",
        "notebooks.stop",
    ),
    kinds=("notebook",),
    lifespan=monitoring,
    order=30,
)

__all__ = ["routes", "tool"]
