"""The files tool: browse, view, share and move files, upload and download them.

Everything goes through verbs (files.*); this package holds only pages. Fixed
addresses (``/files/download``, ``/files/uploads``...) come first.
"""

from starlette.routing import BaseRoute

from app.tools import Card, Tool
from wrappers.files import browse, live, sharing, transfer, trash, view

routes: list[BaseRoute] = [
    *transfer.routes,
    *trash.routes,
    *sharing.routes,
    *view.routes,
    *browse.routes,
]

tool = Tool(
    name="files",
    title="Files",
    url="/files",
    routes=routes,
    card=Card("files/_card.html"),
    uses=(
        "files.chmod",
        "files.copy",
        "files.create",
        "files.mkdir",
        "files.move",
        "files.page",
        "files.permissions",
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
    order=20,
)

__all__ = ["routes", "tool"]
