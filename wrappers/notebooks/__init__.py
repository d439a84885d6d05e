"""The notebooks tool: Jupyter on the cluster's computers, reached through the portal.

The worked example of a tool (README: Adding a tool). Everything that is its own is
here and declared in ``tool`` below:
- pages (``pages``): the list and start form, a session's page, opening a .ipynb;
- verbs (``verbs``) with their rule on the ``notebook`` kind;
- its table (``models``), its settings section (``settings``);
- its live events (``fragments``) and its background work, the monitor that follows
  every session from the cluster watcher's readings (``monitor``);
- the agent operations its verbs run (managers/notebooks/agent_operations.py);
- the reverse proxy (``proxy``) serving Jupyter under ``/notebooks/<session id>/``,
  whose requests it checks itself (``own_checks``): Jupyter's pages cannot send the
  portal's CSRF token, so Origin and Jupyter's own XSRF check take its place.
"""

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from app.tools import Card, Tool
from app.verbs import Services
from managers.notebooks.agent_operations import OPERATIONS
from wrappers.notebooks import fragments, pages, proxy
from wrappers.notebooks.models import NotebookSession
from wrappers.notebooks.monitor import monitoring
from wrappers.notebooks.settings import NotebookSettings, notebook_settings
from wrappers.notebooks.store import Notebooks, NotebookStore
from wrappers.notebooks.verbs import VERBS
from wrappers.request import verb_gate, viewer

routes: list[BaseRoute] = [*pages.routes]


async def card_context(request: Request) -> dict[str, Any]:
    listed = await verb_gate(request).call(viewer(request), "notebooks.list")
    return {"notebook_sessions": listed.sessions}


async def provide(services: Services) -> tuple[Notebooks, proxy.NotebookProxy]:
    store = NotebookStore(services.database)
    return (
        Notebooks(store, notebook_settings(services.settings)),
        proxy.NotebookProxy(services.settings, store.get),
    )


tool = Tool(
    name="notebooks",
    title="Notebooks",
    url="/notebooks",
    routes=routes,
    templates=__name__,
    card=Card("notebooks/_card.html", card_context),
    verbs=VERBS,
    uses=(
        "cluster.snapshot",
        # The monitor reads her server's address file as her (monitor.py).
        "files.read",
        "notebooks.list",
        "notebooks.show",
        "notebooks.start",
        "notebooks.stop",
    ),
    kinds=("notebook",),
    # notebook:<owner>/<id>. Each person starts, reads, stops and connects to their
    # own; connecting is also checked in code to be the owner only (it runs code as
    # her), whatever other rules say.
    policy=("p, user, *, notebook:{sub}/**, (start|read|stop|connect)",),
    renderers=fragments.RENDERERS,
    lifespan=monitoring,
    settings=NotebookSettings,
    models=(NotebookSession,),
    operations=OPERATIONS,
    provides=provide,
    early_routes=proxy.routes,
    own_checks=proxy.is_proxied,
    order=30,
)

__all__ = ["routes", "tool"]
