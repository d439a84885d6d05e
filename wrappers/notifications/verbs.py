"""Notification verbs: a person reads and marks their own notifications (admins may
read anyone's, for help). The bell, the list and "mark all as seen" use these.

Objects are ``notification:<owner>/all`` (the whole list) and
``notification:<owner>/<id>`` (one); the handlers also only ever touch rows of the
owner policy was asked about, so a guessed id of someone else's finds nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models import Notification
from app.notify import Notifier
from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from app.verbs.errors import VerbFailed, VerbUnavailable


class ListArgs(BaseModel):
    # Whose list; empty is the asker's own. Reading someone else's needs policy.
    user: str = Field(default="", pattern=r"^([a-z_][a-z0-9_-]{0,31})?$")
    limit: int = Field(default=50, ge=0, le=500)


class OpenArgs(BaseModel):
    id: int = Field(ge=1)


class NotificationRow(BaseModel):
    id: int
    at: datetime
    kind: str
    title: str
    body: str
    url: str
    seen: bool

    @classmethod
    def of(cls, row: Notification) -> NotificationRow:
        assert row.id is not None
        return cls(
            id=row.id,
            at=row.at,
            kind=row.kind,
            title=row.title,
            body=row.body,
            url=row.url,
            seen=row.seen_at is not None,
        )


class NotificationList(BaseModel):
    user: str
    unseen: int
    notifications: list[NotificationRow]


class Opened(BaseModel):
    notification: NotificationRow


class Marked(BaseModel):
    count: int


def _notifier(services: Any) -> Notifier:
    notifier: Notifier | None = services.notifier
    if notifier is None:
        raise VerbUnavailable("Notifications are not available right now.", "unavailable")
    return notifier


async def whose_list(args: Any, identity: Identity, services: Any) -> str:
    return f"{args.user or identity.unix_name}/all"


async def my_list(args: Any, identity: Identity, services: Any) -> str:
    return f"{identity.unix_name}/all"


async def one_of_mine(args: Any, identity: Identity, services: Any) -> str:
    return f"{identity.unix_name}/{args.id}"


async def list_notifications(args: Any, identity: Identity, services: Any) -> NotificationList:
    """Newest first, with how many are unseen (``limit=0``: only the count, for the bell)."""
    store = _notifier(services).store
    user = args.user or identity.unix_name
    rows = await store.newest(user, args.limit) if args.limit else []
    return NotificationList(
        user=user,
        unseen=await store.unseen(user),
        notifications=[NotificationRow.of(row) for row in rows],
    )


async def open_notification(args: Any, identity: Identity, services: Any) -> Opened:
    """Mark one seen (it was opened) and return it, for its link."""
    notifier = _notifier(services)
    row = await notifier.store.open(identity.unix_name, args.id)
    if row is None:
        raise VerbFailed("There is no such notification.", "ENOENT")
    await notifier.announce(identity.unix_name)  # the bell in every open tab
    return Opened(notification=NotificationRow.of(row))


async def mark_all_seen(args: Any, identity: Identity, services: Any) -> Marked:
    notifier = _notifier(services)
    count = await notifier.store.mark_all_seen(identity.unix_name)
    await notifier.announce(identity.unix_name)
    return Marked(count=count)


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb(
        "notifications.list",
        ListArgs,
        NotificationList,
        "notification",
        "read",
        whose_list,
        local=list_notifications,
    ),
    Verb(
        "notifications.open",
        OpenArgs,
        Opened,
        "notification",
        "write",
        one_of_mine,
        local=open_notification,
    ),
    Verb(
        "notifications.mark_seen",
        NoArgs,
        Marked,
        "notification",
        "write",
        my_list,
        local=mark_all_seen,
    ),
)
