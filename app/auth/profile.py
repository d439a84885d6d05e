"""What the portal shows about a signed-in person's groups, cached in their session.

Group lookups go to the passwd/group databases, which on a campus cluster are often
LDAP or SSSD and can take a while; they run in a worker thread and are reused for a
few minutes, so pages never stall the event loop and membership changes still show
up soon.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass

from starlette.requests import HTTPConnection

from app.auth.identity import is_admin, project_groups
from app.security.sessions import session_of
from app.settings import Settings

PROFILE_SECONDS = 300


@dataclass(frozen=True)
class Profile:
    projects: list[str]
    admin: bool


def lookup_profile(unix_name: str, settings: Settings) -> Profile:
    """Blocking group lookups; call through ``asyncio.to_thread``."""
    return Profile(project_groups(unix_name, settings), is_admin(unix_name, settings))


async def viewer_profile(connection: HTTPConnection) -> Profile:
    """The viewer's project groups and admin status, at most a few minutes old."""
    state = session_of(connection.scope)
    assert state.identity is not None, "only for signed-in people"
    if state.identity.viewed_by is not None:
        # A view of her portal: her groups, never the looker's cached ones, and
        # nothing of hers kept in the looker's session.
        settings = connection.app.state.settings
        return await asyncio.to_thread(lookup_profile, state.identity.unix_name, settings)
    cached = state.data.get("profile")
    if isinstance(cached, dict) and time.time() - cached.get("at", 0) < PROFILE_SECONDS:
        return Profile(cached["projects"], cached["admin"])
    settings = connection.app.state.settings
    profile = await asyncio.to_thread(lookup_profile, state.identity.unix_name, settings)
    state.data["profile"] = {**asdict(profile), "at": time.time()}
    # Roles that follow from Unix groups follow them here too, within minutes.
    await connection.app.state.policy.sync_derived_roles(
        state.identity.unix_name, projects=profile.projects, is_admin=profile.admin
    )
    return profile


def cached_admin(connection: HTTPConnection) -> bool:
    """Whether to show admin links, from the cache only (pages must not block)."""
    cached = session_of(connection.scope).data.get("profile")
    return isinstance(cached, dict) and bool(cached.get("admin"))
