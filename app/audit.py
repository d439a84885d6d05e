"""The audit trail: every security-relevant act is written down and logged.

Each event goes to the structured log first (for the site's log shipping) and then
to the database (for admins to query), so a failing database never hides an event.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.logs import get_logger
from app.models import AuditEvent

log = get_logger("onestop.audit")


class Auditor:
    """Records audit events through its own short transactions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self,
        *,
        actor: str,
        action: str,
        outcome: str,
        object: str = "",
        client_ip: str = "",
        duration_ms: float = 0.0,
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
        event = AuditEvent(
            actor=actor[:255],
            action=action,
            object=object[:1024],
            outcome=outcome,
            detail=json.dumps(detail, default=str, sort_keys=True),
            client_ip=client_ip,
            duration_ms=duration_ms,
        )
        try:
            async with transaction(self._sessions) as db:
                db.add(event)
        except Exception:
            log.exception("audit_write_failed", actor=actor, action=action)
