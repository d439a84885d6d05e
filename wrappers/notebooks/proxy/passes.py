"""The passes into notebook origins: one-time codes and the cookies they become.

Connecting works like JupyterHub's single-user OAuth. The notebook origin never sees
the portal's cookie, so the portal hands her browser a code, bound to her portal
session, to one notebook session and to a state cookie only her browser holds on
that notebook origin; the origin exchanges it for a cookie of its own
(``access.py`` says when each is good). This module only keeps them: the database
has the SHA-256 of every value, never the value.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.models import utcnow
from app.recent import Recent
from wrappers.notebooks.models import NotebookPass

__all__ = ["CODE_SECONDS", "CodeTaken", "Passes", "Taken", "digest", "tag"]

CODE_SECONDS = 60
"""How long a code lasts: it is used by the very next request of her browser."""
PASS_SECONDS = 1.0
"""How long a cookie's row may come from this process's memory (it never changes:
what ends a pass is its portal session ending, which is checked on every request)."""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def tag(token_hash: str) -> str:
    """What Jupyter is told of a pass (``X-Onestop-Pass``): enough to name its sockets,
    nothing that opens anything."""
    return token_hash[:32]


class Taken(StrEnum):
    """What presenting a code found."""

    FRESH = "fresh"
    USED = "used"  # presented before (a code works once, whoever presents it)
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CodeTaken:
    outcome: Taken
    code: NotebookPass | None = None


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


class Passes:
    """Codes and cookies in the notebooks tool's ``notebook_passes`` table."""

    def __init__(self, database: async_sessionmaker[AsyncSession]) -> None:
        self._database = database
        self._cookies: Recent[str, NotebookPass | None] = Recent(PASS_SECONDS)

    async def mint_code(
        self, *, portal_session: str, notebook_id: str, owner: str, state_hash: str
    ) -> str:
        """A new code for her browser (the state cookie's hash binds it to that browser);
        expired codes of anyone are removed on the way (cookies are the sweep's to
        remove: it ends their sockets first)."""
        code = secrets.token_urlsafe(32)
        now = utcnow()
        async with transaction(self._database) as db:
            await db.exec(
                delete(NotebookPass).where(
                    NotebookPass.kind == "code",  # type: ignore[arg-type]
                    NotebookPass.expires_at < now,  # type: ignore[arg-type]
                )
            )
            db.add(
                NotebookPass(
                    token_hash=digest(code),
                    kind="code",
                    notebook_id=notebook_id,
                    owner=owner,
                    session_hash=portal_session,
                    state_hash=state_hash,
                    created_at=now,
                    expires_at=now + timedelta(seconds=CODE_SECONDS),
                )
            )
        return code

    async def take_code(self, code: str) -> CodeTaken:
        """The code's row, marked used by this very call (two presentations at once:
        one gets it). Whether it is good (its age, its session, its browser) is for the
        caller to judge: the code is spent either way."""
        if not code or len(code) > 128:
            return CodeTaken(Taken.UNKNOWN)
        hashed = digest(code)
        async with transaction(self._database) as db:
            marked = await db.exec(
                update(NotebookPass)
                .where(
                    NotebookPass.token_hash == hashed,  # type: ignore[arg-type]
                    NotebookPass.kind == "code",  # type: ignore[arg-type]
                    NotebookPass.used_at.is_(None),  # type: ignore[union-attr]
                )
                .values(used_at=utcnow())
            )
            row = await db.get(NotebookPass, hashed)
        if row is None or row.kind != "code":
            return CodeTaken(Taken.UNKNOWN)
        row.expires_at = _aware(row.expires_at)
        return CodeTaken(Taken.FRESH if marked.rowcount == 1 else Taken.USED, row)

    async def add_cookie(self, code: NotebookPass, expires_at: datetime) -> str:
        """The cookie a good code is exchanged for: the same portal session, notebook
        session and person, until ``expires_at`` (her portal session's end)."""
        value = secrets.token_urlsafe(32)
        async with transaction(self._database) as db:
            db.add(
                NotebookPass(
                    token_hash=digest(value),
                    kind="cookie",
                    notebook_id=code.notebook_id,
                    owner=code.owner,
                    session_hash=code.session_hash,
                    expires_at=expires_at,
                )
            )
        return value

    async def cookies(self) -> list[NotebookPass]:
        """Every cookie pass there is (the sweep's rounds: one per browser and session)."""
        async with self._database() as db:
            rows = list(await db.exec(select(NotebookPass).where(NotebookPass.kind == "cookie")))
        for row in rows:
            row.expires_at = _aware(row.expires_at)
        return rows

    async def remove(self, token_hashes: list[str]) -> None:
        """These passes are over: their next request connects again, from the start."""
        if not token_hashes:
            return
        async with transaction(self._database) as db:
            await db.exec(
                delete(NotebookPass).where(NotebookPass.token_hash.in_(token_hashes))  # type: ignore[attr-defined]
            )

    async def cookie(self, value: str) -> NotebookPass | None:
        """The unexpired cookie pass of this value, or None."""
        if not value or len(value) > 128:
            return None
        found = await self._cookies.get(digest(value), lambda: self._cookie(value))
        if found is None or found.expires_at <= utcnow():
            return None
        return found

    async def _cookie(self, value: str) -> NotebookPass | None:
        async with self._database() as db:
            row = await db.get(NotebookPass, digest(value))
        if row is None or row.kind != "cookie":
            return None
        row.expires_at = _aware(row.expires_at)
        return row
