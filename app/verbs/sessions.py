"""Session verbs: who is signed in (staff and admins), and ending sessions (admins)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.security.sessions import Identity
from app.verbs.catalog import AnyVerb, NoArgs, Verb
from app.verbs.errors import VerbInvalid
from app.verbs.services import Services


class RevokeArgs(BaseModel):
    user: str = Field(default="", pattern=r"^([a-z_][a-z0-9_-]{0,31})?$")
    session: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")


class SessionRow(BaseModel):
    id_hash: str
    unix_name: str
    display_name: str
    created_at: datetime
    last_seen_at: datetime
    client_ip: str
    user_agent: str


class SessionList(BaseModel):
    sessions: list[SessionRow]


class Ended(BaseModel):
    count: int


async def all_sessions(args: BaseModel, identity: Identity, services: Services) -> str:
    return "all"


async def list_sessions(args: NoArgs, identity: Identity, services: Services) -> SessionList:
    rows = await services.sessions.active()
    return SessionList(
        sessions=[
            SessionRow(
                id_hash=record.id_hash,
                unix_name=user.unix_name,
                display_name=user.display_name,
                created_at=record.created_at,
                last_seen_at=record.last_seen_at,
                client_ip=record.client_ip,
                user_agent=record.user_agent,
            )
            for record, user in rows
        ]
    )


async def end_sessions(args: RevokeArgs, identity: Identity, services: Services) -> Ended:
    if args.user:
        return Ended(count=await services.sessions.revoke_user(args.user))
    if args.session:
        return Ended(count=await services.sessions.revoke(args.session))
    raise VerbInvalid("Choose a session or a person on the list first.")


VERBS: tuple[AnyVerb, ...] = (
    Verb(
        "sessions.list", NoArgs, SessionList, "session", "read", all_sessions, local=list_sessions
    ),
    Verb(
        "sessions.revoke",
        RevokeArgs,
        Ended,
        "session",
        "write",
        all_sessions,
        local=end_sessions,
        recent_sign_in=True,
    ),
)
