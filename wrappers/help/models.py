"""The Help tool's tables: tickets and the messages of their threads.

A ``HelpTicket`` is one question: who asked, in which state it is, whom it is
assigned to, whether it is shared with one of her projects, whether she consents to
staff seeing what she sees, and the context she chose to send (JSON sections, each
already cleaned of secrets) and the files she pointed to (references, never copies).
A ``HelpMessage`` is one entry of its thread: her reply, a staff reply, or a staff
note she never sees. A ``HelpImage`` is a screenshot she (or staff) added, kept in
the database: it is what her screen showed, not a file of hers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from app.models import utcnow


class HelpTicket(SQLModel, table=True):
    __tablename__ = "help_tickets"

    id: str = Field(primary_key=True, max_length=16)
    author: str = Field(max_length=64, index=True)
    title: str = Field(max_length=1000)
    # open | waiting (for the user) | solved
    state: str = Field(default="open", max_length=16, index=True)
    # One of her projects, whose members may then read it; None: her and staff only.
    project: str | None = Field(default=None, max_length=64, index=True)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    # She lets staff see what she sees (revocable; app/security/view_as.py, help.view).
    consent: bool = False
    # The page she asked from, and the sections of its context she kept (JSON list).
    page: str = Field(default="", max_length=2048)
    context: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    # Paths of her files she pointed to (JSON list).
    attachments: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    # The ticket's own token (the e-mail bridge's reply address carries it).
    token: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class HelpMessage(SQLModel, table=True):
    __tablename__ = "help_messages"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=16, index=True, foreign_key="help_tickets.id")
    author: str = Field(max_length=64)
    # user (her words) | staff (a reply she sees) | note (staff only)
    kind: str = Field(max_length=8)
    body: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class HelpImage(SQLModel, table=True):
    __tablename__ = "help_images"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=16, index=True, foreign_key="help_tickets.id")
    author: str = Field(max_length=64)
    # image/png or image/jpeg, as its first bytes say (never as the browser claimed).
    media_type: str = Field(max_length=16)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    at: datetime = Field(default_factory=utcnow)
