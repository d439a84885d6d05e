"""The files tool: browse, view, share and move files, upload and download them.

Everything goes through verbs (files.*); this package holds only pages. Fixed
addresses (``/files/download``, ``/files/uploads``...) come first.
"""

from starlette.routing import BaseRoute

from wrappers.files import browse, sharing, transfer, trash, view

routes: list[BaseRoute] = [
    *transfer.routes,
    *trash.routes,
    *sharing.routes,
    *view.routes,
    *browse.routes,
]

__all__ = ["routes"]
