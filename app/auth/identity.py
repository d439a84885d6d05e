"""From an ID token to a local Unix account, or a clear refusal.

The provider says who someone is; the passwd database says whether they have an
account on this cluster. Both must agree before a session exists.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
from dataclasses import dataclass
from typing import Any

from app.settings import Settings

UNIX_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


NO_ACCOUNT_EXPLANATION = (
    "You signed in with your campus account, but it is not linked to an account on "
    "this HPC cluster, so there is nothing here for you to use yet.",
    "To get access, ask your HPC team for a cluster account (your supervisor or "
    "course instructor can usually request one for you).",
)


class NoAccountError(Exception):
    """The identity is valid but may not use this cluster.

    ``reason`` and ``outcome`` go to the audit log; ``heading`` and ``explanation``
    are what the person reads.
    """

    def __init__(
        self,
        reason: str,
        username: str = "",
        *,
        outcome: str = "no-account",
        heading: str = "You have no account on this cluster",
        explanation: tuple[str, ...] = NO_ACCOUNT_EXPLANATION,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.username = username
        self.outcome = outcome
        self.heading = heading
        self.explanation = explanation


@dataclass(frozen=True)
class Account:
    unix_name: str
    uid: int
    display_name: str
    email: str
    groups: tuple[str, ...]


def unix_groups(unix_name: str) -> tuple[str, ...]:
    """Every group the account is in, primary included, by name."""
    entry = pwd.getpwnam(unix_name)
    names = []
    for gid in os.getgrouplist(unix_name, entry.pw_gid):
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return tuple(sorted(set(names)))


def project_groups(unix_name: str, settings: Settings) -> list[str]:
    """The groups that are projects: shared groups, not the personal or system ones."""
    result = []
    for name in unix_groups(unix_name):
        if name == unix_name or name in settings.project_groups_exclude:
            continue
        try:
            if grp.getgrnam(name).gr_gid >= settings.project_min_gid:
                result.append(name)
        except KeyError:
            continue
    return result


def is_admin(unix_name: str, settings: Settings) -> bool:
    return bool(set(unix_groups(unix_name)) & set(settings.admin_groups))


def map_account(claims: dict[str, Any], settings: Settings) -> Account:
    """The Unix account these claims belong to, or NoAccountError saying why not."""
    username = claims.get(settings.oidc.username_claim)
    if not isinstance(username, str) or not UNIX_NAME.match(username):
        raise NoAccountError(f"claim {settings.oidc.username_claim!r} is not a Unix name")
    try:
        entry = pwd.getpwnam(username)
    except KeyError as error:
        raise NoAccountError("no Unix account", username) from error
    if entry.pw_uid < settings.min_uid:
        raise NoAccountError("system account refused", username)
    groups = unix_groups(username)
    if settings.allowed_groups and not set(groups) & set(settings.allowed_groups):
        raise NoAccountError("not in an allowed group", username)
    name = claims.get("name")
    email = claims.get("email")
    return Account(
        unix_name=username,
        uid=entry.pw_uid,
        display_name=name if isinstance(name, str) and name else username,
        email=email if isinstance(email, str) else "",
        groups=groups,
    )
