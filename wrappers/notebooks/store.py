"""Notebook sessions (Jupyter servers run as Slurm jobs) in the portal database.

The verbs (wrappers/notebooks/verbs.py), the monitor (app/notebook_monitor.py) and the
reverse proxy read and write sessions here. The store decides nothing about who may
do what: the verb gate has asked policy already, and the proxy checks the owner
itself. Slurm stays the truth about the job; a row only remembers what Slurm cannot
(owner, secret, where the server answered) so a restarted portal finds every
session again.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.models import utcnow
from wrappers.notebooks.models import NotebookSession
from wrappers.notebooks.settings import NotebookSettings
from wrappers.notebooks.states import ACTIVE_STATES, SessionState

__all__ = [
    "ACTIVE_STATES",
    "SESSION_ID",
    "NotebookSession",
    "NotebookStore",
    "Notebooks",
    "new_secret",
    "new_session_id",
]

SESSION_ID = re.compile(r"^[0-9a-f]{16}$")
"""A session id: ``secrets.token_hex(8)``, also the last part of Jupyter's base_url."""

"""States of a session whose job may still exist (everything but ``ended``)."""


def new_session_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    """The token the proxy adds upstream; 256 bits, never sent to a browser."""
    return secrets.token_urlsafe(32)


class NotebookStore:
    """Rows of ``notebook_sessions``; every method is one short transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, session_id: str) -> NotebookSession | None:
        if not SESSION_ID.match(session_id):
            return None
        async with self._sessions() as db:
            return await db.get(NotebookSession, session_id)

    async def create(self, **values: Any) -> tuple[NotebookSession, bool]:
        """The new session and True, or the one its form token already made and False
        (a double click, or a request sent again after its answer was lost)."""
        record = NotebookSession(**values)
        try:
            async with transaction(self._sessions) as db:
                db.add(record)
        except IntegrityError:
            existing = await self.by_token(record.owner, record.token)
            if existing is None:  # the token is someone else's: theirs stays theirs
                raise
            return existing, False
        return record, True

    async def by_token(self, owner: str, token: str) -> NotebookSession | None:
        """The session a start form with this one-time token already made, if any."""
        if not token:
            return None
        async with self._sessions() as db:
            rows = await db.exec(
                select(NotebookSession).where(
                    col(NotebookSession.owner) == owner, col(NotebookSession.token) == token
                )
            )
            return rows.first()

    async def of_owner(self, owner: str, *, ended_too: bool = True) -> list[NotebookSession]:
        """Her sessions, newest first."""
        query = select(NotebookSession).where(col(NotebookSession.owner) == owner)
        if not ended_too:
            query = query.where(col(NotebookSession.state).in_(ACTIVE_STATES))
        async with self._sessions() as db:
            rows = await db.exec(query.order_by(col(NotebookSession.created_at).desc()))
            return list(rows.all())

    async def active(self) -> list[NotebookSession]:
        """Every session not known to have ended, of every owner (the monitor's list)."""
        async with self._sessions() as db:
            rows = await db.exec(
                select(NotebookSession)
                .where(col(NotebookSession.state).in_(ACTIVE_STATES))
                .order_by(col(NotebookSession.created_at))
            )
            return list(rows.all())

    async def update(
        self, session_id: str, *, unless_ended: bool = False, **values: Any
    ) -> NotebookSession | None:
        """Set ``values`` on the session; ``ended_at`` is stamped when it ends.

        ``unless_ended``: leave a session that has ended as it is (the monitor decided
        from a reading taken before she pressed Stop, which must not bring it back).
        """
        async with transaction(self._sessions) as db:
            record = await db.get(NotebookSession, session_id)
            if record is None:
                return None
            if unless_ended and record.state == SessionState.ENDED:
                return record
            for key, value in values.items():
                setattr(record, key, value)
            if values.get("state") == SessionState.ENDED and record.ended_at is None:
                record.ended_at = utcnow()
            db.add(record)
        return record

    async def delete_ended(self, owner: str, keep: int) -> list[str]:
        """Forget her oldest ended sessions beyond the newest ``keep``; their ids."""
        ended = [row for row in await self.of_owner(owner) if row.state == SessionState.ENDED]
        gone: Iterable[NotebookSession] = ended[keep:]
        deleted = []
        async with transaction(self._sessions) as db:
            for row in gone:
                record = await db.get(NotebookSession, row.id)
                if record is not None:
                    await db.delete(record)
                    deleted.append(row.id)
        return deleted


@dataclass(frozen=True)
class Notebooks:
    """What the notebook verbs need besides the gate's own services."""

    store: NotebookStore
    settings: NotebookSettings
