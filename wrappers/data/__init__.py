"""The Data tool: bring data in from outside the cluster, send results out.

Everything that is its own is here and declared in ``tool`` below:
- pages (``pages``): /data, with a form per kind of source, the export form, saved
  connections and the live transfer list; a dashboard card;
- verbs (``verbs``: transfers on the ``transfer`` kind; ``connections``: saved
  connections, browsing and host keys on the ``dataconn`` kind);
- its tables (``models``), its settings section (``settings``), the vault that
  seals saved secrets (``vault``);
- its live events (``fragments``) and its background work, the monitor that reads
  every unfinished transfer's progress through ``data.follow`` (``monitor``);
- the agent operations its verbs run, the external data manager's
  (managers/data/agent_operations.py): the bytes move in her agent or a Slurm job
  of hers, never in the portal.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from app.audit import Auditor
from app.tools import Card, Tool
from app.verbs import Services
from managers.data.agent_operations import OPERATIONS
from wrappers.data import connections, fragments, help_context, pages, verbs
from wrappers.data.models import DataConnection, Transfer
from wrappers.data.monitor import monitoring
from wrappers.data.service import Data
from wrappers.data.settings import DataSettings, data_settings
from wrappers.data.store import DataStore
from wrappers.data.vault import Vault
from wrappers.request import verb_gate, viewer

routes: list[BaseRoute] = [*pages.routes]


async def card_context(request: Request) -> dict[str, Any]:
    listed = await verb_gate(request).call(viewer(request), "data.list")
    return {"transfers": listed.transfers}


async def provide(services: Services) -> Data:
    config = data_settings(services.settings)
    return Data(
        DataStore(services.database),
        config,
        Vault(config.secret_key.get_secret_value()),
        Auditor(services.database),
    )


tool = Tool(
    name="data",
    title="Data",
    url="/data",
    routes=routes,
    templates=__name__,
    card=Card("data/_card.html", card_context),
    verbs=(*verbs.VERBS, *connections.VERBS),
    # files.stat: an export stats her file as her first (its size decides agent or job),
    # and the folder choices list her project folders (wrappers/files/common.py).
    uses=("data.follow", "data.list", "data.connections.list", "files.stat"),
    kinds=("transfer", "dataconn"),
    # transfer:<owner>/<id> and dataconn:<owner>/<id>: each person starts, reads and
    # manages her own; the site's connections (dataconn:@site/<id>) may be used by
    # everyone and read by no one (their secrets never leave the portal's settings).
    # The monitor follows every person's transfers as its own principal.
    principals=(verbs.MONITOR,),
    policy=(
        "p, user, *, transfer:{sub}/**, (start|read|cancel|retry|forget)",
        "p, user, *, dataconn:{sub}/**, (read|write|use)",
        "p, user, *, dataconn:@site/**, use",
        f"p, {verbs.MONITOR}, *, transfer:**, follow",
    ),
    renderers=fragments.RENDERERS,
    lifespan=monitoring,
    settings=DataSettings,
    models=(Transfer, DataConnection),
    operations=OPERATIONS,
    provides=provide,
    # What its pages show, for someone asked for help from one.
    page_context=help_context.page_context,
    order=25,
)

__all__ = ["routes", "tool"]
