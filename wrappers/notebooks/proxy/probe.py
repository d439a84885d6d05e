"""Whether a session's Jupyter server is up: the question the monitor asks before "ready".

The server must answer Jupyter's status API under the session's own base URL, to the
session's secret, with Jupyter's own status fields. A port where something else
listens, or another session's server (which refuses this secret), is not "up", so a
``server.json`` pointing somewhere else never makes a session ready.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from wrappers.notebooks.proxy.headers import SECRET_HEADER

__all__ = ["probe"]

STATUS_FIELDS = frozenset({"started", "last_activity", "connections", "kernels"})


async def probe(
    host: str, port: int, session_id: str, secret: str, *, wait_seconds: float = 5.0
) -> bool:
    """True when the Jupyter server at ``host:port`` answers its status API at
    ``/notebooks/<session_id>/api/status`` for this secret; False for anything else
    (refused, timed out, another answer). Never raises for network trouble."""
    if not host or not 1 <= port <= 65535:
        return False
    url = URL.build(scheme="http", host=host, port=port, path=f"/notebooks/{session_id}/api/status")
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=wait_seconds),
                cookie_jar=aiohttp.DummyCookieJar(),
            ) as client,
            client.get(url, headers={SECRET_HEADER: secret}, allow_redirects=False) as response,
        ):
            if response.status != 200:
                return False
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False
    return isinstance(answer, dict) and STATUS_FIELDS <= answer.keys()
