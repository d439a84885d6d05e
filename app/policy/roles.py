"""The five roles, the assignments that follow from a person's Unix groups, and the
names of service principals.

Role assignments are Casbin ``g`` rows ``subject, role, domain, marker``; the
three-field role definition ignores the fourth value (column ``v3``) when deciding.
The marker is ``derived`` for rows computed from Unix groups at sign-in and
``granted`` for rows an administrator added, so sign-ins recompute the one kind
without touching the other. It lives in the rows, so it survives a restart.

A service principal (``service:public-links``) is a part of a tool that acts for a
person nobody signed in as (a public link's page, a monitor). It is a subject of its
own in the rules (``p, service:public-links, *, file:/**, read-published``) and holds
no role: no assignment may name it, so nothing a person or role may do reaches it,
and nothing it may do reaches a person. No Unix name contains a colon, so no person
can ever be taken for one.
"""

from __future__ import annotations

import re

from app.policy.canonical import ANY_DOMAIN, check_domain, check_name
from app.policy.errors import PolicyInputError

USER = "user"
# Held in one project's domain by its members (Unix group); what it allows there is
# a site's choice (``project_job_view`` adds "members may look at the project's jobs").
MEMBER = "member"
PROJECT_ADMIN = "project-admin"
STAFF = "staff"
ADMIN = "admin"
ROLES = frozenset({USER, MEMBER, PROJECT_ADMIN, STAFF, ADMIN})

DERIVED = "derived"
"""The ``v3`` marker of a role assignment computed from Unix groups."""

GRANTED = "granted"
"""The ``v3`` marker of a role assignment an administrator made."""

PROJECT_JOB_VIEW = [MEMBER, ANY_DOMAIN, "job:**", "read"]
"""The rule the ``project_job_view`` setting adds: in a job's project (its domain),
members may read it. Reading only: cancelling stays with its owner and project admins."""

RoleAssignment = tuple[str, str]
"""(role, domain)."""

SERVICE_PREFIX = "service:"
_SERVICE = re.compile(r"service:[a-z][a-z0-9-]{0,47}")


def check_role(role: str) -> str:
    """Return a known role name unchanged, or raise PolicyInputError."""
    if role not in ROLES:
        raise PolicyInputError(f"{role!r} is not a role; the roles are {', '.join(sorted(ROLES))}.")
    return role


def check_subject(subject: str) -> str:
    """Return a person's Unix name unchanged, or raise PolicyInputError.

    A subject named like a role would satisfy ``g(subject, role)`` by name alone
    (Casbin treats every name as holding itself), so such names are refused.
    """
    check_name("user", subject)
    if subject in ROLES:
        raise PolicyInputError(f"{subject!r} is a role name and cannot be used as a person.")
    return subject


def is_service(subject: str) -> bool:
    """Whether ``subject`` is spelled as a service principal (``service:<name>``)."""
    return subject.startswith(SERVICE_PREFIX)


def check_service(name: str) -> str:
    """Return a service principal's name (``service:public-links``) unchanged, or raise
    PolicyInputError."""
    if not _SERVICE.fullmatch(name):
        raise PolicyInputError(
            f"{name!r} is not a service principal: write service:<name>, with lower-case "
            "letters, digits and - in the name."
        )
    return name


def check_principal(subject: str) -> str:
    """Return a person's Unix name or a service principal's name unchanged (the subjects
    policy decides for), or raise PolicyInputError."""
    return check_service(subject) if is_service(subject) else check_subject(subject)


def check_rule_subject(subject: str) -> str:
    """Return the subject of a ``p`` rule unchanged: a role, or a service principal."""
    return check_service(subject) if is_service(subject) else check_role(subject)


def derived_roles(projects: list[str], *, is_admin: bool) -> set[RoleAssignment]:
    """The assignments Unix groups give: ``user`` everywhere, ``member`` in each
    project, and ``admin`` everywhere for members of an admin group.

    (``user`` in ``*`` already counts in every domain, so a per-project ``user`` row
    could not tell members from everyone else; ``member`` can.)"""
    wanted = {(USER, ANY_DOMAIN)}
    wanted.update((MEMBER, check_domain(project)) for project in projects)
    if is_admin:
        wanted.add((ADMIN, ANY_DOMAIN))
    return wanted
