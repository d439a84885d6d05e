"""File shares and public links in the portal database.

The filesystem is the truth about who may read a file (the shares are ACLs that
her agent set); these rows remember what each share changed, so it can be undone
exactly, and list shares for "Shared with me" / "Shared by me". Public links are
capabilities: only the SHA-256 of a link's secret is stored, and a scrypt hash of its
password. Only verbs (wrappers/files/verbs/share.py) and the public link pages use this;
the verb gate has already decided who may do what.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.models import utcnow
from wrappers.files.models import FileShare, PublicLink

# scrypt's cost: about 50 ms and 16 MiB per check, enough against guessing offline.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        found = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


def link_state(link: PublicLink, now: datetime | None = None) -> str:
    """``live``, ``expired`` or ``revoked``."""
    if link.revoked_at is not None:
        return "revoked"
    expires = link.expires_at
    if expires is not None:
        if expires.tzinfo is None:  # SQLite hands back naive UTC
            expires = expires.replace(tzinfo=(now or utcnow()).tzinfo)
        if expires <= (now or utcnow()):
            return "expired"
    return "live"


def decoded(share: FileShare) -> dict[str, Any]:
    """The share as its owner's agent needs it for ``keep`` (see sharing.revoke)."""
    try:
        record = json.loads(share.record)
    except ValueError:
        record = {}
    return {
        "path": share.path,
        "access": share.access,
        "item_kind": record.get("item_kind", "file"),
        "before": record.get("before", {}),
        "traverse": record.get("traverse", []),
    }


class ShareStore:
    """Rows of ``file_shares`` and ``public_links``; each method one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # shares

    async def add_share(self, **values: Any) -> FileShare:
        record = FileShare(**values)
        async with transaction(self._sessions) as db:
            db.add(record)
        return record

    async def share(self, share_id: int) -> FileShare | None:
        async with self._sessions() as db:
            return await db.get(FileShare, share_id)

    async def same_grantee(
        self, owner: str, kind: str, grantee: str, but: int | None = None
    ) -> list[FileShare]:
        """The owner's live shares with this grantee (other than ``but``)."""
        async with self._sessions() as db:
            query = select(FileShare).where(
                col(FileShare.owner) == owner,
                col(FileShare.grantee_kind) == kind,
                col(FileShare.grantee) == grantee,
            )
            if but is not None:
                query = query.where(col(FileShare.id) != but)
            rows = await db.exec(query.order_by(col(FileShare.id)))
            return list(rows.all())

    async def shared_by(self, owner: str) -> list[FileShare]:
        async with self._sessions() as db:
            rows = await db.exec(
                select(FileShare)
                .where(col(FileShare.owner) == owner)
                .order_by(col(FileShare.path), col(FileShare.grantee))
            )
            return list(rows.all())

    async def shared_with(self, user: str, groups: list[str]) -> list[FileShare]:
        wanted = [(col(FileShare.grantee_kind) == "user") & (col(FileShare.grantee) == user)]
        if groups:
            wanted.append(
                (col(FileShare.grantee_kind) == "group") & col(FileShare.grantee).in_(groups)
            )
        async with self._sessions() as db:
            rows = await db.exec(
                select(FileShare)
                .where(or_(*wanted), col(FileShare.owner) != user)
                .order_by(col(FileShare.owner), col(FileShare.path))
            )
            return list(rows.all())

    async def delete_share(self, share_id: int) -> None:
        async with transaction(self._sessions) as db:
            record = await db.get(FileShare, share_id)
            if record is not None:
                await db.delete(record)

    # public links

    async def add_link(
        self, owner: str, path: str, kind: str, days: int | None, password: str
    ) -> tuple[PublicLink, str]:
        """A new link and its secret (shown once; only its hash is kept)."""
        secret = secrets.token_urlsafe(32)
        link = PublicLink(
            owner=owner,
            path=path,
            kind=kind,
            token_hash=token_hash(secret),
            password_hash=hash_password(password) if password else "",
            expires_at=utcnow() + timedelta(days=days) if days else None,
        )
        async with transaction(self._sessions) as db:
            db.add(link)
        return link, secret

    async def link(self, link_id: int) -> PublicLink | None:
        async with self._sessions() as db:
            return await db.get(PublicLink, link_id)

    async def link_by_secret(self, secret: str) -> PublicLink | None:
        async with self._sessions() as db:
            rows = await db.exec(
                select(PublicLink).where(col(PublicLink.token_hash) == token_hash(secret))
            )
            return rows.first()

    async def links_by(self, owner: str) -> list[PublicLink]:
        """Her links that were not revoked (expired ones too: she may revoke them)."""
        async with self._sessions() as db:
            rows = await db.exec(
                select(PublicLink)
                .where(col(PublicLink.owner) == owner, col(PublicLink.revoked_at).is_(None))
                .order_by(col(PublicLink.created_at))
            )
            return list(rows.all())

    async def revoke_link(self, link_id: int) -> None:
        async with transaction(self._sessions) as db:
            link = await db.get(PublicLink, link_id)
            if link is not None and link.revoked_at is None:
                link.revoked_at = utcnow()
                db.add(link)

    async def count_download(self, link_id: int) -> None:
        async with transaction(self._sessions) as db:
            await db.exec(
                update(PublicLink)
                .where(col(PublicLink.id) == link_id)
                .values(downloads=PublicLink.downloads + 1)
            )
