"""Tickets and their messages in the portal database.

The store decides nothing about who may do what: the verb gate asked policy already,
naming each ticket by its real author (and its project, when shared). Every method is
one short transaction.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.models import utcnow
from wrappers.help.models import HelpImage, HelpMessage, HelpTicket

__all__ = ["HEX_ID", "HelpStore", "new_id"]

HEX_ID = re.compile(r"^[0-9a-f]{16}$")


def new_id() -> str:
    return secrets.token_hex(8)


class HelpStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, ticket_id: str) -> HelpTicket | None:
        if not HEX_ID.match(ticket_id):
            return None
        async with self._sessions() as db:
            return await db.get(HelpTicket, ticket_id)

    async def by_token(self, token: str) -> HelpTicket | None:
        async with self._sessions() as db:
            rows = await db.exec(select(HelpTicket).where(col(HelpTicket.token) == token))
            return rows.first()

    async def create(self, ticket: HelpTicket, first: HelpMessage) -> HelpTicket:
        async with transaction(self._sessions) as db:
            db.add(ticket)
            await db.flush()
            db.add(first)
        return ticket

    async def of_author(self, author: str) -> list[HelpTicket]:
        async with self._sessions() as db:
            rows = await db.exec(
                select(HelpTicket)
                .where(col(HelpTicket.author) == author)
                .order_by(col(HelpTicket.updated_at).desc())
            )
            return list(rows.all())

    async def queue(
        self,
        state: str = "",
        person: str = "",
        project: str = "",
        before: datetime | None = None,
        limit: int = 200,
    ) -> list[HelpTicket]:
        """Every ticket, newest change first, narrowed by state, author, project and
        age (``before``: asked before then)."""
        query = select(HelpTicket)
        if state:
            query = query.where(col(HelpTicket.state) == state)
        if person:
            query = query.where(col(HelpTicket.author) == person)
        if project:
            query = query.where(col(HelpTicket.project) == project)
        if before is not None:
            query = query.where(col(HelpTicket.created_at) < before)
        async with self._sessions() as db:
            rows = await db.exec(query.order_by(col(HelpTicket.updated_at).desc()).limit(limit))
            return list(rows.all())

    async def add_image(self, image: HelpImage) -> HelpImage:
        async with transaction(self._sessions) as db:
            db.add(image)
            await db.flush()
        return image

    async def images(self, ticket_id: str) -> list[tuple[int, str, str, datetime]]:
        """(id, author, media type, when) of each screenshot, without its bytes."""
        async with self._sessions() as db:
            rows = await db.exec(
                select(HelpImage.id, HelpImage.author, HelpImage.media_type, HelpImage.at)
                .where(col(HelpImage.ticket_id) == ticket_id)
                .order_by(col(HelpImage.id))
            )
            return [(int(i or 0), a, m, at) for i, a, m, at in rows.all()]

    async def image(self, ticket_id: str, image_id: int) -> HelpImage | None:
        async with self._sessions() as db:
            found = await db.get(HelpImage, image_id)
        return found if found is not None and found.ticket_id == ticket_id else None

    async def messages(self, ticket_id: str) -> list[HelpMessage]:
        async with self._sessions() as db:
            rows = await db.exec(
                select(HelpMessage)
                .where(col(HelpMessage.ticket_id) == ticket_id)
                .order_by(col(HelpMessage.at), col(HelpMessage.id))
            )
            return list(rows.all())

    async def add_message(self, message: HelpMessage, **changes: Any) -> HelpTicket | None:
        """The message added and the ticket changed (its state) in one transaction."""
        async with transaction(self._sessions) as db:
            ticket = await db.get(HelpTicket, message.ticket_id)
            if ticket is None:
                return None
            db.add(message)
            await db.flush()  # its id, for the notification that names it
            for key, value in changes.items():
                setattr(ticket, key, value)
            ticket.updated_at = utcnow()
            db.add(ticket)
        return ticket

    async def update(self, ticket_id: str, **changes: Any) -> HelpTicket | None:
        async with transaction(self._sessions) as db:
            ticket = await db.get(HelpTicket, ticket_id)
            if ticket is None:
                return None
            for key, value in changes.items():
                setattr(ticket, key, value)
            ticket.updated_at = utcnow()
            db.add(ticket)
        return ticket
