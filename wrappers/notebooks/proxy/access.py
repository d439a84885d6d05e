"""Who may go through the proxy to a session's Jupyter server: its owner, and no one else.

Connecting to a notebook server is running code as its owner, so the rule is stricter
than any policy rule: the signed-in person must BE the owner (not an admin, not a
project admin), and policy must also allow ``connect`` on ``notebook:<owner>/<id>``
(so a site can still switch notebooks off for someone). Asked on every request and
every WebSocket, with the portal session the SessionMiddleware loaded for it.

Only the stored host and port are ever used: nothing in a request can name another
upstream. A session is reachable once the monitor has seen its server answer the
probe (``ready``), and stays reachable while the scheduler cannot be asked
(``unknown``, with the address it had), because a slow Slurm must not cut her off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import Scope

from app.policy import PolicyInputError, canonical_object
from app.recent import Recent
from app.security.sessions import Identity, session_of
from wrappers.notebooks.store import NotebookSession

__all__ = ["Refusal", "SessionCache", "Upstream", "admit", "origin_problem"]

REACHABLE_STATES = frozenset({"ready", "unknown"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
NOT_YOURS = (
    "This notebook session is not yours, or it does not exist. A notebook session "
    "opens only for the person who started it."
)


@dataclass(frozen=True)
class Upstream:
    """Where one request goes: only ever the stored address of a session."""

    session_id: str
    owner: str
    host: str
    port: int
    secret: str

    @property
    def prefix(self) -> str:
        return f"/notebooks/{self.session_id}/"


@dataclass(frozen=True)
class Refusal:
    """Why a request does not go through, in words for the person and for the audit."""

    status: int
    heading: str
    text: str
    reason: str
    audit: bool = True
    session_page: str = ""


Lookup = Callable[[str], Awaitable[NotebookSession | None]]


class SessionCache:
    """Sessions by id, and policy's answers, for a moment (``app.recent``): one
    JupyterLab page makes a hundred requests, which then cost one query and one
    Casbin evaluation.

    Kept for ``seconds``: a stopped session is cut off by its job ending (its server
    stops answering) and by the next look-up; a changed rule applies a second later.
    """

    def __init__(self, lookup: Lookup, seconds: float = 1.0) -> None:
        self._lookup = lookup
        self._rows: Recent[str, NotebookSession | None] = Recent(seconds)
        self._answers: Recent[tuple[str, str], bool] = Recent(seconds)

    async def get(self, session_id: str) -> NotebookSession | None:
        return await self._rows.get(session_id, lambda: self._lookup(session_id))

    async def may_connect(self, scope: Scope, person: str, row: NotebookSession) -> bool:
        """Policy's answer to ``connect`` on ``notebook:<owner>/<id>`` for ``person``."""

        async def ask() -> bool:
            try:
                return bool(
                    await scope["app"].state.policy.enforce(
                        person,
                        "*",
                        canonical_object("notebook", f"{row.owner}/{row.id}"),
                        "connect",
                    )
                )
            except PolicyInputError:
                return False

        return await self._answers.get((person, row.id), ask)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def origin_problem(scope: Scope, expected_origin: str) -> Refusal | None:
    """Every WebSocket and every request that may change something must carry the
    portal's own Origin (this replaces the portal's CSRF token, which Jupyter's pages
    do not send; Jupyter's own ``_xsrf`` check still applies behind it). A GET from
    another site's script is refused too, whenever the browser names that site."""
    origin = _header(scope, b"origin")
    needs = scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS
    if origin == expected_origin or (origin is None and not needs):
        return None
    return Refusal(
        403,
        "Refused: not from this portal",
        "This request did not come from a page of this portal, so it was not passed to "
        "your notebook. Open the notebook from the portal's Notebooks page.",
        f"origin {origin or 'missing'}",
    )


async def admit(
    scope: Scope, session_id: str, sessions: SessionCache, origin: str
) -> tuple[Identity | None, Upstream | Refusal]:
    """The upstream for this request, or why not (the signed-in guard ran before);
    ``origin`` is the portal's own (``Settings.origin``)."""
    identity = session_of(scope).identity
    if identity is None:
        return None, Refusal(401, "Please sign in", "Please sign in first.", "not signed in")
    refusal = origin_problem(scope, origin)
    if refusal is not None:
        return identity, refusal
    row = await sessions.get(session_id)
    if row is None or row.owner != identity.unix_name:
        return identity, Refusal(
            403, "Not your notebook", NOT_YOURS, "not the owner" if row else "no such session"
        )
    if not await sessions.may_connect(scope, identity.unix_name, row):
        return identity, Refusal(
            403,
            "Not allowed",
            "The portal's policy does not let you connect to notebook sessions. Ask your "
            "HPC team if you need them.",
            "policy",
        )
    page = f"/notebooks/sessions/{row.id}"
    if row.state == "ended":
        return identity, Refusal(
            410,
            "This notebook session has ended",
            "Its Jupyter server is no longer running. Its page says why; you can start "
            "a new session from the Notebooks page.",
            "ended",
            audit=False,
            session_page=page,
        )
    if row.state not in REACHABLE_STATES or row.host is None or row.port is None:
        return identity, Refusal(
            503,
            "Your notebook is not ready yet",
            "Its Jupyter server is still starting (or waiting for a place on the "
            "cluster). Its page shows how far it is and offers Connect when it is ready.",
            "not ready",
            audit=False,
            session_page=page,
        )
    return identity, Upstream(row.id, row.owner, row.host, row.port, row.secret)
