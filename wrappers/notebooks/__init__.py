"""The notebooks tool: Jupyter on the cluster's computers, reached through the portal.

The worked example of a tool (README: Adding a tool). Everything that is its own is
here and declared in ``tool`` below:
- pages (``pages``): the list and start form, a session's page, opening a .ipynb;
- verbs (``verbs``) with their rule on the ``notebook`` kind;
- its table (``models``), its settings section (``settings``);
- its live events (``fragments``) and its background work, the monitor that follows
  every session from the cluster watcher's readings (``monitor``), calling verbs for
  each session's owner as its service principal, with rules of its own;
- the agent operations its verbs run (managers/notebooks/agent_operations.py);
- the reverse proxy (``proxy``) serving each session's Jupyter on an origin of its
  own (``own_origins``: ``<session id>.<notebook domain>``), never on the portal's,
  so script in a notebook reaches nothing of the portal; connecting there takes a
  one-time code from the portal (``proxy/connect.py``).
"""

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from app.tools import Card, Tool
from app.verbs import Services
from app.web.words import JobClaim
from managers.notebooks import session_of_job
from managers.notebooks.agent_operations import OPERATIONS
from wrappers.notebooks import fragments, help_context, pages, proxy
from wrappers.notebooks.models import NotebookPass, NotebookSession
from wrappers.notebooks.monitor import MONITOR, monitoring
from wrappers.notebooks.proxy.passes import Passes
from wrappers.notebooks.settings import NotebookSettings, notebook_settings
from wrappers.notebooks.store import Notebooks, NotebookStore
from wrappers.notebooks.verbs import VERBS
from wrappers.request import verb_gate, viewer

routes: list[BaseRoute] = [*pages.routes, *proxy.portal_routes]


def claim_job(name: str) -> JobClaim | None:
    """A session's job, in lists and notifications, says what it is; its page leads
    to the session's page instead of offering Resubmit."""
    session_id = session_of_job(name)
    if not session_id:
        return None
    return JobClaim(
        words="Jupyter notebook session",
        url=f"/notebooks/sessions/{session_id}",
        sentence="This job runs one of your Jupyter notebook sessions.",
        link="Open the session's page",
        after=" to connect to it or stop it.",
    )


async def card_context(request: Request) -> dict[str, Any]:
    listed = await verb_gate(request).call(viewer(request), "notebooks.list")
    return {"notebook_sessions": listed.sessions}


async def provide(
    services: Services,
) -> tuple[Notebooks, proxy.NotebookProxy, proxy.Connector]:
    store = NotebookStore(services.database)
    served = proxy.NotebookProxy.build(services.settings, store.get, Passes(services.database))
    return (Notebooks(store, notebook_settings(services.settings)), served, served.connector)


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
        # The monitor reads her server's address file as her, and asks accounting how
        # her session's job ended (monitor.py).
        "files.read",
        "jobs.show",
        "notebooks.list",
        "notebooks.show",
        "notebooks.start",
        "notebooks.stop",
        "notebooks.warn",
    ),
    kinds=("notebook",),
    # notebook:<owner>/<id>. Each person starts, reads, stops and connects to their
    # own; connecting is also checked in code to be the owner only (it runs code as
    # her), whatever other rules say.
    # The monitor (monitor.py) follows every session for its owner as this principal:
    # it reads jobs (how a session's job ended), each session's server.json (where
    # Jupyter listens, read by her agent as her) and warns of a session's end.
    principals=(MONITOR,),
    policy=(
        "p, user, *, notebook:{sub}/**, (start|read|stop|connect)",
        f"p, {MONITOR}, *, notebook:**, warn",
        f"p, {MONITOR}, *, job:**, read",
        f"p, {MONITOR}, *, file:/**/.onestop/notebooks/*/server.json, read",
    ),
    renderers=fragments.RENDERERS,
    lifespan=monitoring,
    settings=NotebookSettings,
    models=(NotebookSession, NotebookPass),
    operations=OPERATIONS,
    provides=provide,
    own_origins=proxy.claim_origins,
    claim_job=claim_job,
    # What its pages show, for someone asked for help from one.
    page_context=help_context.page_context,
    order=30,
)

__all__ = ["routes", "tool"]
