"""Server-side sessions: the browser holds a random id, the database holds the rest.

Why not Starlette's signed-cookie sessions: a cookie session cannot be revoked by an
admin, cannot be listed, and grows with what is stored in it (the OIDC state lives
here before sign-in). The id is rotated at sign-in so a fixated id is worthless.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import transaction
from app.models import User, WebSession, utcnow
from app.recent import Recent
from app.settings import Settings

ANONYMOUS_LIFETIME = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=60)
RECENT_SECONDS = 1.0
"""How old a session read may be for requests that accept a recent one (see load)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cookie_name(settings: Settings) -> str:
    """``__Host-`` pins the cookie to this exact origin, but browsers take it only over TLS."""
    return "__Host-onestop" if settings.tls else "onestop_session"


@dataclass
class Identity:
    """The signed-in person as the rest of the portal sees them.

    ``auth_time`` is when they last typed their password at the provider (from the
    ID token), so admin verbs can insist on a recent one. ``viewed_by`` is set only in
    a read-only view of her portal (app/security/view_as.py): the staff member who
    looks, whom the gate lets through to viewing verbs alone and names in the audit.
    """

    user_id: int
    unix_name: str
    display_name: str
    email: str
    auth_time: int | None = None
    viewed_by: str | None = None


@dataclass
class SessionState:
    """One request's view of its session; the middleware persists what changed."""

    data: dict[str, Any] = field(default_factory=dict)
    id_hash: str | None = None
    identity: Identity | None = None
    created_at: datetime | None = None
    last_seen_at: datetime | None = None
    expires_at: datetime | None = None
    _snapshot: str = "{}"
    rotate_requested: bool = False
    destroy_requested: bool = False

    def sign_in(self, identity: Identity) -> None:
        """Bind the session to a person under a fresh id (defeats session fixation)."""
        self.identity = identity
        self.rotate_requested = True

    def destroy(self) -> None:
        self.destroy_requested = True
        self.identity = None
        self.data.clear()

    @property
    def changed(self) -> bool:
        # ``_snapshot`` is the stored text itself, which ``persist`` wrote with this
        # same call: loading keeps key order, so an untouched session compares equal
        # without a second encoding on every request.
        return json.dumps(self.data, default=str) != self._snapshot


class SessionStore:
    """Loads, saves and revokes sessions in the portal database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._lifetime = timedelta(minutes=settings.session_lifetime_minutes)
        self._idle = timedelta(minutes=settings.session_idle_minutes)
        # Rows as last read, by id hash, for requests that accept a recent read.
        self._recent: Recent[str, tuple[WebSession, User | None] | None] = Recent(RECENT_SECONDS)
        self._touched: dict[str, datetime] = {}

    async def load(self, token: str | None, *, recent: bool = False) -> SessionState:
        """The session of ``token``, checked (revoked, expired, idle) against now.

        ``recent``: the row may come from a read of this process in the last
        RECENT_SECONDS instead of the database. For the notebook proxy, where one
        JupyterLab page makes hundreds of requests: the checks still run on every
        request, and a revocation through this process (sign-out, an admin's) takes
        effect at once; one made by another process within a second.
        """
        if not token or len(token) > 128:
            return SessionState()
        return await self.load_hashed(hash_token(token), recent=recent)

    async def load_hashed(self, id_hash: str, *, recent: bool = False) -> SessionState:
        """``load`` for a session known by its id hash (what a notebook origin's pass
        remembers of the portal session it was made in); checked the same way."""
        if recent:
            row = await self._recent.get(id_hash, lambda: self._row(id_hash))
        else:
            row = await self._row(id_hash)
        if row is None:
            return SessionState()
        record, user = row
        now = utcnow()
        if (
            record.revoked_at is not None
            or record.expires_at <= now
            or (user is not None and record.last_seen_at + self._idle <= now)
        ):
            return SessionState()
        data = json.loads(record.data)
        identity = None
        if user is not None and user.id is not None:
            auth_time = data.get("auth_time")
            identity = Identity(
                user.id,
                user.unix_name,
                user.display_name,
                user.email,
                auth_time if isinstance(auth_time, int) else None,
            )
        return SessionState(
            data=data,
            id_hash=id_hash,
            identity=identity,
            created_at=record.created_at,
            last_seen_at=record.last_seen_at,
            expires_at=record.expires_at,
            _snapshot=record.data,
        )

    def _touched_lately(self, id_hash: str, now: datetime) -> bool:
        """Whether this process wrote the session's last_seen_at in the last minute
        (requests that all read the same recent row must not all write it again)."""
        last = self._touched.get(id_hash)
        if last is not None and now - last <= TOUCH_EVERY:
            return True
        if len(self._touched) > 10000:
            self._touched.clear()
        self._touched[id_hash] = now
        return False

    async def person(self, unix_name: str) -> Identity | None:
        """Someone who has signed in here before, as a page would see them (for a
        staff member's view of their portal); None for a name never seen."""
        async with self._sessions() as db:
            user = (await db.exec(select(User).where(User.unix_name == unix_name))).first()
        if user is None or user.id is None:
            return None
        return Identity(user.id, user.unix_name, user.display_name, user.email)

    async def _row(self, id_hash: str) -> tuple[WebSession, User | None] | None:
        async with self._sessions() as db:
            result = await db.exec(
                select(WebSession, User)
                .join(User, isouter=True)
                .where(WebSession.id_hash == id_hash)
            )
            row = result.first()
        return None if row is None else (row[0], row[1])

    async def persist(self, state: SessionState, client_ip: str, user_agent: str) -> str | None:
        """Write what the request changed; return a new cookie value when one was minted."""
        now = utcnow()
        if state.destroy_requested:
            if state.id_hash:
                await self.revoke(state.id_hash)
            return None
        if state.rotate_requested or (state.id_hash is None and state.data):
            if state.id_hash:
                await self.revoke(state.id_hash)
            token = secrets.token_urlsafe(32)
            lifetime = self._lifetime if state.identity else ANONYMOUS_LIFETIME
            record = WebSession(
                id_hash=hash_token(token),
                user_id=state.identity.user_id if state.identity else None,
                data=json.dumps(state.data, default=str),
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
                client_ip=client_ip[:64],
                user_agent=user_agent[:255],
            )
            async with transaction(self._sessions) as db:
                db.add(record)
            return token
        if state.id_hash and (state.changed or self._touch_due(state, now)):
            self._recent.forget(state.id_hash)
            async with transaction(self._sessions) as db:
                await db.exec(
                    update(WebSession)
                    .where(WebSession.id_hash == state.id_hash)  # type: ignore[arg-type]
                    .values(data=json.dumps(state.data, default=str), last_seen_at=now)
                )
        return None

    def _touch_due(self, state: SessionState, now: datetime) -> bool:
        """Whether its last_seen_at is over a minute old and no request of this
        process wrote it meanwhile."""
        return (
            state.id_hash is not None
            and state.last_seen_at is not None
            and now - state.last_seen_at > TOUCH_EVERY
            and not self._touched_lately(state.id_hash, now)
        )

    async def keep_alive(self, state: SessionState) -> None:
        """Note a request made in this session somewhere else than the portal's pages
        (on a notebook origin), so working there keeps it from idling out; written at
        most once a minute."""
        if state.id_hash is None or not self._touch_due(state, utcnow()):
            return
        self._recent.forget(state.id_hash)
        async with transaction(self._sessions) as db:
            await db.exec(
                update(WebSession)
                .where(WebSession.id_hash == state.id_hash)  # type: ignore[arg-type]
                .values(last_seen_at=utcnow())
            )

    async def still_valid(self, id_hash: str) -> bool:
        """Whether a signed-in session may go on (not revoked, not expired)."""
        async with self._sessions() as db:
            record = await db.get(WebSession, id_hash)
        now = utcnow()
        return (
            record is not None
            and record.revoked_at is None
            and record.expires_at > now
            and record.last_seen_at + self._idle > now
        )

    async def revoke(self, id_hash: str) -> int:
        """End one session; returns 1 if it was live, 0 if unknown or already ended."""
        self._recent.forget(id_hash)
        async with transaction(self._sessions) as db:
            result = await db.exec(
                update(WebSession)
                .where(
                    WebSession.id_hash == id_hash,  # type: ignore[arg-type]
                    WebSession.revoked_at.is_(None),  # type: ignore[union-attr]
                )
                .values(revoked_at=utcnow())
            )
            return int(result.rowcount or 0)

    async def purge(self, keep: timedelta = timedelta(days=1)) -> int:
        """Delete sessions that ended more than ``keep`` ago (every visit to /login
        leaves a pre-login row, so without this the table only grows)."""
        cutoff = utcnow() - keep
        async with transaction(self._sessions) as db:
            result = await db.exec(
                delete(WebSession).where(
                    or_(
                        WebSession.expires_at < cutoff,  # type: ignore[arg-type]
                        WebSession.revoked_at < cutoff,  # type: ignore[arg-type,operator]
                        WebSession.last_seen_at < cutoff - self._idle,  # type: ignore[arg-type]
                    )
                )
            )
            return int(result.rowcount or 0)

    async def forget_user(self, unix_name: str) -> int:
        """Delete a person's record and sessions, so their campus identity can be bound
        afresh at the next sign-in (for an account renamed at the provider)."""
        self._recent.clear()
        async with transaction(self._sessions) as db:
            users = (await db.exec(select(User.id).where(User.unix_name == unix_name))).all()
            if not users:
                return 0
            await db.exec(
                delete(WebSession).where(WebSession.user_id.in_(users))  # type: ignore[union-attr]
            )
            result = await db.exec(delete(User).where(User.id.in_(users)))  # type: ignore[union-attr]
            return int(result.rowcount or 0)

    async def active(self) -> list[tuple[WebSession, User]]:
        """Every signed-in session that has not ended, newest first."""
        now = utcnow()
        async with self._sessions() as db:
            rows = await db.exec(
                select(WebSession, User)
                .join(User)
                .where(
                    WebSession.revoked_at.is_(None),  # type: ignore[union-attr]
                    WebSession.expires_at > now,
                    WebSession.last_seen_at > now - self._idle,
                )
                .order_by(WebSession.last_seen_at.desc())  # type: ignore[attr-defined]
            )
            return [(record, user) for record, user in rows.all()]

    async def revoke_user(self, unix_name: str) -> int:
        """End every live session of one person (an admin's emergency brake)."""
        self._recent.clear()
        async with transaction(self._sessions) as db:
            users = (await db.exec(select(User.id).where(User.unix_name == unix_name))).all()
            if not users:
                return 0
            result = await db.exec(
                update(WebSession)
                .where(
                    WebSession.user_id.in_(users),  # type: ignore[union-attr]
                    WebSession.revoked_at.is_(None),  # type: ignore[union-attr]
                )
                .values(revoked_at=utcnow())
            )
            return int(result.rowcount or 0)


class SessionMiddleware:
    """Puts ``scope["session"]`` (a dict, as Starlette and authlib expect) on every request."""

    def __init__(
        self,
        app: ASGIApp,
        store: SessionStore,
        settings: Settings,
    ) -> None:
        self.app = app
        self.store = store
        self.cookie = cookie_name(settings)
        self.secure = settings.tls
        self.max_age = settings.session_lifetime_minutes * 60

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = await self.store.load(self._token(scope))
        scope["session"] = state.data
        scope["onestop.session"] = state
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                client = scope.get("client")
                token = await self.store.persist(
                    state,
                    client_ip=client[0] if client else "",
                    user_agent=_header(scope, b"user-agent"),
                )
                if token is not None:
                    MutableHeaders(scope=message).append(
                        "set-cookie", self._cookie(token, self.max_age)
                    )
                elif state.destroy_requested:
                    MutableHeaders(scope=message).append("set-cookie", self._cookie("", 0))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _token(self, scope: Scope) -> str | None:
        # Starlette's lenient parser: one malformed cookie from another site on the
        # same domain must not hide ours (http.cookies gives up on the whole header).
        return cookie_parser(_header(scope, b"cookie")).get(self.cookie) or None

    def _cookie(self, value: str, max_age: int) -> str:
        parts = [f"{self.cookie}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
        parts.append("SameSite=Lax")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def session_of(scope: Scope) -> SessionState:
    state = scope.get("onestop.session")
    if not isinstance(state, SessionState):
        raise RuntimeError("SessionMiddleware must wrap the app before sessions are used")
    return state
