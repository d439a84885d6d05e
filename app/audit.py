"""The audit trail: every security-relevant act is written down and logged.

Each event goes to the structured log first (for the site's log shipping) and then
to the database (for admins to query), so a failing database never hides an event.

Refusals, failures and sign-ins are written at once. Routine successes of verbs
(``urgent=False``) are written in small batches a moment later: one transaction per
file listing would cost more than the listing itself. ``flush`` writes what waits;
the portal flushes when it stops.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.logs import get_logger
from app.models import AuditEvent, utcnow

log = get_logger("onestop.audit")

BATCH_SECONDS = 0.2


class Auditor:
    """Records audit events through its own short transactions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._pending: list[dict[str, Any]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(
        self,
        *,
        actor: str,
        action: str,
        outcome: str,
        object: str = "",
        client_ip: str = "",
        duration_ms: float = 0.0,
        urgent: bool = True,
        **detail: Any,
    ) -> None:
        log.info(
            "audit",
            actor=actor,
            action=action,
            object=object,
            outcome=outcome,
            client_ip=client_ip,
            duration_ms=round(duration_ms, 2),
            **detail,
        )
        row = {
            "at": utcnow(),
            "actor": actor[:255],
            "action": action,
            "object": object[:1024],
            "outcome": outcome,
            "detail": json.dumps(detail, default=str, sort_keys=True),
            "client_ip": client_ip,
            "duration_ms": duration_ms,
        }
        if urgent:
            await self._write([row])
            return
        self._pending.append(row)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def flush(self) -> None:
        rows, self._pending = self._pending, []
        if rows:
            await self._write(rows)

    async def close(self) -> None:
        """Write what waits and stop the batch timer (before the database goes away)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        await self.flush()

    async def _flush_soon(self) -> None:
        await asyncio.sleep(BATCH_SECONDS)
        await self.flush()

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            async with transaction(self._sessions) as db:
                connection = await db.connection()
                await connection.execute(insert(AuditEvent), rows)
        except Exception:
            log.exception("audit_write_failed", rows=len(rows))
