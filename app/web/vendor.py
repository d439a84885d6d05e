"""Front-end files from the npm packages, by a fixed list of names.

Serving node_modules wholesale would also publish the identity provider's code and
anything else that lands there; an explicit list serves exactly what pages load.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse

from app.db import REPO_ROOT

NODE_MODULES = REPO_ROOT / "node_modules"
FILES = {
    "htmx.min.js": NODE_MODULES / "htmx.org/dist/htmx.min.js",
    "htmx-ws.min.js": NODE_MODULES / "htmx-ext-ws/dist/ws.min.js",
    "pico.min.css": NODE_MODULES / "@picocss/pico/css/pico.min.css",
    # Upload checksums (static/upload.js): CRC-32 of each piece, SHA-256 of the file.
    "hash-wasm-crc32.min.js": NODE_MODULES / "hash-wasm/dist/crc32.umd.min.js",
    "hash-wasm-sha256.min.js": NODE_MODULES / "hash-wasm/dist/sha256.umd.min.js",
}


async def vendor_file(request: Request) -> FileResponse:
    path = FILES.get(request.path_params["name"])
    if path is None or not path.is_file():
        raise HTTPException(404)
    return FileResponse(path, headers={"cache-control": "public, max-age=3600"})
