"""Who may go through to a session's Jupyter server: its owner, and no one else.

Every request and WebSocket on a notebook origin is decided here (``admit``), by the
embedded proxy and by the decision nginx may ask (``decide.py``) alike:

- its pass: the notebook origin's own cookie, made from a one-time code
  (``passes.py``), for this very session (a pass of session A opens nothing on B);
- the portal session that pass was made in is still live: a sign-out, a revocation,
  its end or its idling out close the notebook too, at once in this process and
  within a second (``app.recent``) in another;
- she owns the session: connecting is running code as its owner, so the rule is
  stricter than any policy rule (not an admin, not a project admin); and policy must
  also allow ``connect`` on ``notebook:<owner>/<id>`` (a site can still switch
  notebooks off for someone);
- every WebSocket and every request that may change something carries the session's
  own Origin (a GET that names another origin is refused too);
- the session is reachable: ready, or ``unknown`` with the address it had (a slow
  Slurm must not cut her off).

Only the stored host and port are ever used: nothing in a request can name another
upstream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import cookie_parser
from starlette.types import Scope

from app.policy import PolicyInputError, canonical_object
from app.recent import Recent
from app.security.sessions import Identity, SessionState
from wrappers.notebooks.proxy.origins import NotebookOrigins, jupyter_prefix
from wrappers.notebooks.proxy.passes import Passes, tag
from wrappers.notebooks.states import SessionState as NotebookState
from wrappers.notebooks.store import NotebookSession

__all__ = [
    "Refusal",
    "SessionCache",
    "Upstream",
    "Verdict",
    "admit",
    "header",
    "origin_problem",
    "session_page",
]

REACHABLE_STATES = frozenset(state for state in NotebookState if state.may_be_reachable)
SAFE_METHODS = frozenset({"GET", "HEAD"})
NOT_YOURS = (
    "This notebook session is not yours, or it does not exist. A notebook session "
    "opens only for the person who started it."
)


def session_page(session_id: str) -> str:
    """The session's page on the portal (a path there)."""
    return f"/notebooks/sessions/{session_id}"


@dataclass(frozen=True)
class Upstream:
    """Where one request goes: only ever the stored address of a session."""

    session_id: str
    owner: str
    host: str
    port: int
    secret: str
    # The notebook origin's host (and port) as the browser uses it: what Jupyter is
    # told as Host, and compares the browser's Origin with.
    public_host: str
    # Her pass, as Jupyter knows it (``passes.tag``): its sockets end with it.
    pass_tag: str

    @property
    def prefix(self) -> str:
        return jupyter_prefix(self.session_id)


@dataclass(frozen=True)
class Refusal:
    """Why a request does not go through, in words for the person and for the audit."""

    status: int
    heading: str
    text: str
    reason: str
    audit: bool = True
    # A path on the portal for the page's one button ("" for the Notebooks page).
    session_page: str = ""
    # Connecting again may mend it (no pass, or its portal session ended): a page
    # request then starts the connection instead of showing this.
    reconnect: bool = False


# An address on a notebook origin that is no session's (the embedded proxy and
# the decision for nginx answer it alike).
NOT_HERE = Refusal(
    404,
    "Not a notebook address",
    "There is no notebook session at this address. Open your notebooks from the "
    "portal's Notebooks page.",
    "no such address",
    audit=False,
)


@dataclass(frozen=True)
class Verdict:
    """``admit``'s answer: who asked (when her pass said), and where it goes or why not."""

    identity: Identity | None
    outcome: Upstream | Refusal
    # Her portal session, as read for this request (the proxy keeps it from idling).
    portal: SessionState | None = None


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


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def origin_problem(scope: Scope, expected_origin: str) -> Refusal | None:
    """Every WebSocket and every request that may change something must carry the
    session's own Origin (this stands in for a CSRF token, which Jupyter's pages do
    not send; Jupyter's own ``_xsrf`` check still applies behind it). A GET from
    another site's script is refused too, whenever the browser names that site."""
    origin = header(scope, b"origin")
    needs = scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS
    if origin == expected_origin or (origin is None and not needs):
        return None
    return Refusal(
        403,
        "Refused: not from this notebook",
        "This request did not come from a page of this notebook session, so it was not "
        "passed to your notebook. Open the notebook from the portal's Notebooks page.",
        f"origin {origin or 'missing'}",
    )


def _not_connected(session_id: str, reason: str) -> Refusal:
    return Refusal(
        401,
        "Please connect from the portal",
        "This notebook session opens through the portal: go to its page there and choose Connect.",
        reason,
        audit=reason != "no pass",
        session_page=session_page(session_id),
        reconnect=True,
    )


async def admit(
    scope: Scope,
    session_id: str,
    origins: NotebookOrigins,
    passes: Passes,
    sessions: SessionCache,
) -> Verdict:
    """The upstream for this request to ``session_id``'s origin, or why not."""
    refusal = origin_problem(scope, origins.origin(session_id))
    if refusal is not None:
        return Verdict(None, refusal)
    cookies = cookie_parser(header(scope, b"cookie") or "")
    held = await passes.cookie(cookies.get(origins.cookie_name(session_id), ""))
    if held is None:
        return Verdict(None, _not_connected(session_id, "no pass"))
    if held.notebook_id != session_id:  # never sent so by a browser: a forged request
        return Verdict(None, Refusal(403, "Not your notebook", NOT_YOURS, "another session's pass"))
    portal = await scope["app"].state.sessions.load_hashed(held.session_hash, recent=True)
    identity = portal.identity
    if identity is None:
        refusal = _not_connected(session_id, "portal session ended")
        return Verdict(None, refusal)
    if identity.unix_name != held.owner:
        return Verdict(identity, Refusal(403, "Not your notebook", NOT_YOURS, "another's pass"))
    row = await sessions.get(session_id)
    if row is None or row.owner != identity.unix_name:
        reason = "not the owner" if row else "no such session"
        return Verdict(identity, Refusal(403, "Not your notebook", NOT_YOURS, reason))
    if not await sessions.may_connect(scope, identity.unix_name, row):
        return Verdict(
            identity,
            Refusal(
                403,
                "Not allowed",
                "The portal's policy does not let you connect to notebook sessions. Ask "
                "your HPC team if you need them.",
                "policy",
            ),
        )
    page = session_page(row.id)
    if row.state == NotebookState.ENDED:
        return Verdict(
            identity,
            Refusal(
                410,
                "This notebook session has ended",
                "Its Jupyter server is no longer running. Its page says why; you can start "
                "a new session from the Notebooks page.",
                "ended",
                audit=False,
                session_page=page,
            ),
        )
    if row.state not in REACHABLE_STATES or row.host is None or row.port is None:
        return Verdict(
            identity,
            Refusal(
                503,
                "Your notebook is not ready yet",
                "Its Jupyter server is still starting (or waiting for a place on the "
                "cluster). Its page shows how far it is and offers Connect when it is ready.",
                "not ready",
                audit=False,
                session_page=page,
            ),
        )
    upstream = Upstream(
        row.id,
        row.owner,
        row.host,
        row.port,
        row.secret,
        origins.netloc(session_id),
        tag(held.token_hash),
    )
    return Verdict(identity, upstream, portal)
