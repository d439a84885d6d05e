"""Transfers and saved connections in the portal database.

The store decides nothing about who may do what (the verb gate asked policy
already, with objects named by each row's real owner); every method is one short
transaction, so the monitor and a person's click never hold each other up.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.models import utcnow
from managers.data.progress import TransferState
from wrappers.data.models import DataConnection, Transfer

__all__ = ["ACTIVE", "HEX_ID", "DataStore", "new_id"]

HEX_ID = re.compile(r"^[0-9a-f]{16}$")
ACTIVE = (TransferState.WAITING, TransferState.RUNNING, TransferState.VERIFYING)
FINAL = (TransferState.DONE, TransferState.FAILED, TransferState.CANCELLED)


def new_id() -> str:
    return secrets.token_hex(8)


class DataStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- transfers ------------------------------------------------------------------

    async def get(self, transfer_id: str) -> Transfer | None:
        if not HEX_ID.match(transfer_id):
            return None
        async with self._sessions() as db:
            return await db.get(Transfer, transfer_id)

    async def create(self, record: Transfer) -> tuple[Transfer, bool]:
        """The new row and True, or the row her form's token already made and False."""
        try:
            async with transaction(self._sessions) as db:
                db.add(record)
        except IntegrityError:
            async with self._sessions() as db:
                rows = await db.exec(
                    select(Transfer).where(
                        col(Transfer.owner) == record.owner, col(Transfer.token) == record.token
                    )
                )
                existing = rows.first()
            if existing is None:
                raise
            return existing, False
        return record, True

    async def of_owner(self, owner: str) -> list[Transfer]:
        async with self._sessions() as db:
            rows = await db.exec(
                select(Transfer)
                .where(col(Transfer.owner) == owner)
                .order_by(col(Transfer.created_at).desc())
            )
            return list(rows.all())

    async def active(self, owner: str | None = None) -> list[Transfer]:
        """Unfinished transfers (of one person, or everyone's: the monitor's list)."""
        query = select(Transfer).where(col(Transfer.state).in_(ACTIVE))
        if owner is not None:
            query = query.where(col(Transfer.owner) == owner)
        async with self._sessions() as db:
            rows = await db.exec(query.order_by(col(Transfer.created_at)))
            return list(rows.all())

    async def update(self, transfer_id: str, **values: Any) -> Transfer | None:
        """Set ``values``; a transfer that already ended stays as it ended, so a late
        progress report never brings a cancelled one back (``state`` given again by a
        Retry is the one way out of a final state, with ``reopen``)."""
        reopen = bool(values.pop("reopen", False))
        async with transaction(self._sessions) as db:
            record = await db.get(Transfer, transfer_id)
            if record is None:
                return None
            if record.state in FINAL and not reopen:
                return record
            for key, value in values.items():
                setattr(record, key, value)
            if values.get("state") in FINAL and record.ended_at is None:
                record.ended_at = utcnow()
            record.updated_at = utcnow()
            db.add(record)
        return record

    async def delete(self, transfer_id: str) -> bool:
        async with transaction(self._sessions) as db:
            record = await db.get(Transfer, transfer_id)
            if record is None:
                return False
            await db.delete(record)
        return True

    async def ended_beyond(self, owner: str, keep: int) -> list[str]:
        """Her oldest ended transfers beyond the newest ``keep``: ids to forget."""
        ended = [row for row in await self.of_owner(owner) if row.state in FINAL]
        return [row.id for row in ended[keep:]]

    # -- connections ----------------------------------------------------------------

    async def connection(self, connection_id: str) -> DataConnection | None:
        if not HEX_ID.match(connection_id):
            return None
        async with self._sessions() as db:
            return await db.get(DataConnection, connection_id)

    async def connections_of(self, owner: str) -> list[DataConnection]:
        async with self._sessions() as db:
            rows = await db.exec(
                select(DataConnection)
                .where(col(DataConnection.owner) == owner)
                .order_by(col(DataConnection.name))
            )
            return list(rows.all())

    async def save_connection(self, record: DataConnection) -> DataConnection:
        """Insert or replace by id; IntegrityError when she has another of that name."""
        async with transaction(self._sessions) as db:
            existing = await db.get(DataConnection, record.id)
            if existing is None:
                db.add(record)
                return record
            existing.name, existing.kind = record.name, record.kind
            existing.fields, existing.secret_blob = record.fields, record.secret_blob
            existing.updated_at = utcnow()
            db.add(existing)
            return existing

    async def delete_connection(self, connection_id: str) -> bool:
        async with transaction(self._sessions) as db:
            record = await db.get(DataConnection, connection_id)
            if record is None:
                return False
            await db.delete(record)
        return True
