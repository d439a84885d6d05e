"""The files tool: browse, view, share and move files, upload and download them,
and public links anyone may open.

Everything goes through verbs (files.*); the tool brings them (``verbs/``) with their
rule, its tables (shares and links), its settings section (``settings``) and the
agent operations its verbs run (managers/files/agent_operations.py). Fixed addresses
(``/files/download``, ``/files/uploads``...) come first.
"""

from starlette.routing import BaseRoute

from app.tools import Card, Tool
from app.verbs import Services
from managers.files.agent_operations import OPERATIONS
from wrappers.files import browse, help_context, live, public_links, sharing, transfer, trash, view
from wrappers.files.models import FileShare, PublicLink
from wrappers.files.settings import FileSettings
from wrappers.files.share_store import ShareStore
from wrappers.files.verbs import VERBS
from wrappers.files.verbs.public import PUBLIC_LINKS, READ_PUBLISHED

routes: list[BaseRoute] = [
    *public_links.routes,
    *transfer.routes,
    *trash.routes,
    *sharing.routes,
    *view.routes,
    *browse.routes,
]


async def provide(services: Services) -> ShareStore:
    return ShareStore(services.database)


tool = Tool(
    name="files",
    title="Files",
    url="/files",
    routes=routes,
    templates=__name__,
    card=Card("files/_card.html"),
    verbs=VERBS,
    uses=(
        "files.chmod",
        "files.copy",
        "files.create",
        "files.mkdir",
        "files.move",
        "files.page",
        "files.permissions",
        "files.public_list",
        "files.public_open",
        "files.publish",
        "files.purge",
        "files.read",
        "files.restore",
        "files.save",
        "files.share",
        "files.shares",
        "files.stat",
        "files.trash",
        "files.trash_empty",
        "files.trash_list",
        "files.unpublish",
        "files.unshare",
        "files.upload_cancel",
        "files.upload_finish",
        "files.upload_open",
        "files.upload_start",
        "files.usage",
        "files.watch",
        "files.zip",
    ),
    # A folder open in a tab follows its changes (wrappers/files/live.py).
    followers={"watch": live.follow},
    # /p/<secret>: public links (public_links.py), which check the link themselves.
    public_prefixes=("/p/",),
    kinds=("file",),
    # People may use the file verbs anywhere: their agent runs as them, so the kernel
    # decides which files (tier 3); Casbin decides which verbs.
    # Public links' pages open what a link publishes as this principal, for the link's
    # owner (public_links.py, verbs/public.py); it may do nothing else.
    principals=(PUBLIC_LINKS,),
    policy=(
        "p, user, *, file:/**, (list|stat|read|write|share)",
        f"p, {PUBLIC_LINKS}, *, file:/**, {READ_PUBLISHED}",
    ),
    settings=FileSettings,
    models=(FileShare, PublicLink),
    operations=OPERATIONS,
    provides=provide,
    # What its pages show, for someone asked for help from one.
    page_context=help_context.page_context,
    order=20,
)

__all__ = ["routes", "tool"]
