"""Ending the notebook sockets of passes whose portal session is over.

Every new request on a notebook origin is decided afresh (``access.admit``), so a
sign-out stops those at once. A WebSocket is different: it was decided once, when it
opened, and a kernel's socket stays open for hours. The portal's own proxy watches
the sockets it carries; a socket nginx carries never comes past the portal again.

So once a second the sweep looks at every pass: one whose portal session ended
(signed out, revoked, expired, idled out, in this process or another) or which has
itself expired has its sockets closed by Jupyter (``scripts/onestop_jupyter.py``,
``/onestop/close``: the sockets opened with that pass's tag, on whichever path they
came) and is removed, so its next request connects again from the start and meets
the sign-in. With several portals each sweeps; closing twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from app.logs import get_logger
from app.models import utcnow
from app.security.sessions import SessionState
from wrappers.notebooks.models import NotebookPass
from wrappers.notebooks.proxy.access import REACHABLE_STATES
from wrappers.notebooks.proxy.origins import jupyter_prefix
from wrappers.notebooks.proxy.passes import Passes, tag
from wrappers.notebooks.store import NotebookSession

__all__ = ["CONTROL_HEADER", "SWEEP_SECONDS", "Sweep"]

SWEEP_SECONDS = 1.0
CONTROL_HEADER = "X-Onestop-Control"
"""The secret, on the portal's own close request (never passed from a browser)."""

log = get_logger("onestop.notebooks")

PortalSession = Callable[[str], Awaitable[SessionState]]
Lookup = Callable[[str], Awaitable[NotebookSession | None]]


@dataclass
class Sweep:
    passes: Passes
    portal_session: PortalSession  # by id hash, as passes remember it
    lookup: Lookup
    wait_seconds: float = 5.0
    _client: aiohttp.ClientSession | None = field(default=None, init=False)

    async def once(self) -> int:
        """One round; how many passes ended."""
        now = utcnow()
        live: dict[str, bool] = {}
        ended: dict[str, list[NotebookPass]] = {}
        for held in await self.passes.cookies():
            if held.session_hash not in live:
                state = await self.portal_session(held.session_hash)
                live[held.session_hash] = state.identity is not None
            if held.expires_at <= now or not live[held.session_hash]:
                ended.setdefault(held.notebook_id, []).append(held)
        for session_id, over in ended.items():
            row = await self.lookup(session_id)
            if row is not None and row.state in REACHABLE_STATES and row.host and row.port:
                await self._close(row, [tag(held.token_hash) for held in over])
        await self.passes.remove([held.token_hash for over in ended.values() for held in over])
        return sum(len(over) for over in ended.values())

    async def _close(self, row: NotebookSession, tags: list[str]) -> None:
        """Ask her Jupyter server to close the sockets of these passes. A server that
        does not answer has no sockets to close (its job ended, or it is starting)."""
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.wait_seconds),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        assert row.host is not None and row.port is not None
        url = URL.build(
            scheme="http",
            host=row.host,
            port=row.port,
            path=f"{jupyter_prefix(row.id)}onestop/close",
        )
        try:
            async with self._client.post(
                url,
                json={"passes": tags},
                headers={CONTROL_HEADER: row.secret},
                allow_redirects=False,
            ) as answer:
                closed = (await answer.json(content_type=None)).get("closed")
                log.info(
                    "notebook_sockets_closed",
                    session=row.id,
                    owner=row.owner,
                    passes=len(tags),
                    closed=closed,
                    status=answer.status,
                )
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as error:
            log.info("notebook_sockets_unreachable", session=row.id, error=repr(error))

    async def run(self) -> None:
        """Rounds for as long as the portal runs; one failed round is logged, not fatal."""
        try:
            while True:
                try:
                    await self.once()
                except Exception as error:  # the next round tries again
                    log.warning("notebook_sweep_failed", error=repr(error))
                await asyncio.sleep(SWEEP_SECONDS)
        finally:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await self._client.close()
