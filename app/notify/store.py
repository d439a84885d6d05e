"""The portal's notification records: what each person should hear about, and who
asked for an e-mail when a job ends.

Every method is one short transaction. A notification is recorded once per person
and subject ("job:1234"), however often the job's end is noticed (a hook, a poll, a
restart), and an e-mail request is claimed before its message is sent, so two
portals sharing one database send it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.models import JobWatch, Notification, User, utcnow


@dataclass(frozen=True)
class NewNotification:
    """What a notification says; ``subject`` names what it is about, once per person."""

    user: str
    kind: str
    subject: str
    title: str
    body: str = ""
    url: str = ""


class NotificationStore:
    """Reads and writes ``notifications`` and ``job_watches``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, new: NewNotification) -> Notification | None:
        """Store ``new`` unless this person already has one about its subject; return
        the stored row, or None when it was already there."""
        async with transaction(self._sessions) as db:
            found = await db.exec(
                select(Notification.id).where(
                    Notification.user == new.user, Notification.subject == new.subject
                )
            )
            if found.first() is not None:
                return None
            row = Notification(
                user=new.user,
                kind=new.kind,
                subject=new.subject,
                title=new.title,
                body=new.body,
                url=new.url,
            )
            db.add(row)
        return row

    async def has(self, user: str, subject: str) -> bool:
        """Whether ``user`` already has a notification about ``subject``."""
        async with self._sessions() as db:
            found = await db.exec(
                select(Notification.id).where(
                    Notification.user == user, Notification.subject == subject
                )
            )
            return found.first() is not None

    async def is_portal_user(self, user: str) -> bool:
        """Whether ``user`` ever signed in: others' jobs fill no one's list."""
        async with self._sessions() as db:
            found = await db.exec(select(User.id).where(User.unix_name == user))
            return found.first() is not None

    async def display_name(self, user: str) -> str:
        async with self._sessions() as db:
            found = await db.exec(select(User.display_name).where(User.unix_name == user))
            return found.first() or ""

    async def unseen(self, user: str) -> int:
        async with self._sessions() as db:
            result = await db.exec(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user == user, col(Notification.seen_at).is_(None))
            )
            return int(result.one())

    async def newest(self, user: str, limit: int) -> list[Notification]:
        """This person's notifications, newest first."""
        async with self._sessions() as db:
            result = await db.exec(
                select(Notification)
                .where(Notification.user == user)
                .order_by(col(Notification.at).desc(), col(Notification.id).desc())
                .limit(limit)
            )
            return list(result.all())

    async def open(self, user: str, notification_id: int) -> Notification | None:
        """Mark one of ``user``'s notifications seen and return it; None if they have
        no notification with that id (someone else's counts as none)."""
        async with transaction(self._sessions) as db:
            result = await db.exec(
                select(Notification).where(
                    Notification.id == notification_id, Notification.user == user
                )
            )
            row = result.first()
            if row is not None and row.seen_at is None:
                row.seen_at = utcnow()
                db.add(row)
        return row

    async def mark_all_seen(self, user: str) -> int:
        """Mark every unseen notification of ``user`` seen; return how many."""
        async with transaction(self._sessions) as db:
            result = await db.exec(
                update(Notification)
                .where(col(Notification.user) == user, col(Notification.seen_at).is_(None))
                .values(seen_at=utcnow())
            )
            return int(result.rowcount or 0)

    async def watch(self, job_id: str, user: str, email: str) -> bool:
        """Remember to e-mail ``email`` when ``job_id`` ends; False if already asked."""
        try:
            async with transaction(self._sessions) as db:
                db.add(JobWatch(job_id=job_id, user=user, email=email))
        except IntegrityError:
            return False
        return True

    async def watches(self, job_id: str) -> list[JobWatch]:
        """The e-mail requests for ``job_id`` that are not sent yet."""
        async with self._sessions() as db:
            result = await db.exec(
                select(JobWatch).where(JobWatch.job_id == job_id, col(JobWatch.mailed_at).is_(None))
            )
            return list(result.all())

    async def waiting_watches(self, since: datetime) -> list[JobWatch]:
        """Unsent e-mail requests made after ``since`` (checked again at start-up)."""
        async with self._sessions() as db:
            result = await db.exec(
                select(JobWatch).where(
                    col(JobWatch.mailed_at).is_(None), col(JobWatch.created_at) >= since
                )
            )
            return list(result.all())

    async def claim(self, watch_id: int) -> bool:
        """Mark a request as being sent; False if another sender got there first."""
        async with transaction(self._sessions) as db:
            result = await db.exec(
                update(JobWatch)
                .where(col(JobWatch.id) == watch_id, col(JobWatch.mailed_at).is_(None))
                .values(mailed_at=utcnow())
            )
            return int(result.rowcount or 0) == 1

    async def release(self, watch_id: int) -> None:
        """The message could not be sent after all: leave the request open again."""
        async with transaction(self._sessions) as db:
            await db.exec(
                update(JobWatch).where(col(JobWatch.id) == watch_id).values(mailed_at=None)
            )
