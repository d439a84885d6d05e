"""Casbin policy: who may use which verb on which object, in which project.

RBAC with domains (a domain is a project group, ``*`` every project). Objects are
canonical ``kind:value`` strings (``canonical_object``) matched against anchored,
segment-wise patterns; rules and role assignments live in the ``casbin_rule`` table.
The verb gate (app/verbs/) is the only caller of ``enforce``.
"""

from app.policy.canonical import ANY_DOMAIN, canonical_object
from app.policy.enforcer import PolicyEnforcer, load_policy
from app.policy.errors import PolicyInputError
from app.policy.roles import DERIVED, GRANTED, ROLES

__all__ = [
    "ANY_DOMAIN",
    "DERIVED",
    "GRANTED",
    "ROLES",
    "PolicyEnforcer",
    "PolicyInputError",
    "canonical_object",
    "load_policy",
]
