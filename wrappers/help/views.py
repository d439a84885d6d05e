"""What the help verbs answer: tickets and their threads as a viewer may see them."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, Field

from wrappers.help.models import HelpMessage, HelpTicket

__all__ = ["CannedList", "MessageView", "Section", "TicketList", "TicketView"]

STATES = ("open", "waiting", "solved")
STATE_WORDS = {"open": "Open", "waiting": "Waiting for you", "solved": "Solved"}


class Section(BaseModel):
    """One section of context, as she kept it (already cleaned of secrets)."""

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(default="", max_length=200_000)


class MessageView(BaseModel):
    id: int
    author: str
    kind: str
    body: str
    at: datetime

    @classmethod
    def of(cls, row: HelpMessage) -> MessageView:
        assert row.id is not None
        return cls(id=row.id, author=row.author, kind=row.kind, body=row.body, at=row.at)


class ImageView(BaseModel):
    """A screenshot on a question, without its bytes (the page links to them)."""

    id: int
    author: str
    media_type: str
    at: datetime


class TicketView(BaseModel):
    id: str
    author: str
    title: str
    state: str
    project: str | None
    assignee: str | None
    consent: bool
    page: str
    context: list[Section]
    attachments: list[str]
    created_at: datetime
    updated_at: datetime
    messages: list[MessageView] = []
    images: list[ImageView] = []
    # Whether the viewer is staff here (sees notes, may assign and note).
    staff_view: bool = False

    @classmethod
    def of(cls, row: HelpTicket, messages: list[HelpMessage] | None = None) -> TicketView:
        return cls(
            id=row.id,
            author=row.author,
            title=row.title,
            state=row.state,
            project=row.project,
            assignee=row.assignee,
            consent=row.consent,
            page=row.page,
            context=[Section.model_validate(item) for item in json.loads(row.context or "[]")],
            attachments=list(json.loads(row.attachments or "[]")),
            created_at=row.created_at,
            updated_at=row.updated_at,
            messages=[MessageView.of(m) for m in messages or []],
        )


class TicketList(BaseModel):
    tickets: list[TicketView]


class Canned(BaseModel):
    title: str
    text: str


class CannedList(BaseModel):
    answers: list[Canned]
