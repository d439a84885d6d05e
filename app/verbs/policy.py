"""Policy verbs: roles are granted and taken back through the same gate, so every
change is itself checked (admins only by default) and audited."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from app.policy import ROLES
from app.security.sessions import Identity
from app.verbs.catalog import AnyVerb, NoArgs, Verb
from app.verbs.errors import VerbFailed
from app.verbs.services import Services


class RoleArgs(BaseModel):
    subject: str = Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    role: str = Field(pattern="^(" + "|".join(sorted(ROLES)) + ")$")
    domain: str = Field(default="*", pattern=r"^(\*|[a-z_][a-z0-9_-]{0,31})$")

    @field_validator("subject")
    @classmethod
    def _not_a_role_name(cls, subject: str) -> str:
        if subject in ROLES:
            raise ValueError("a person's name, not a role's")
        return subject


class Changed(BaseModel):
    changed: bool


class Rules(BaseModel):
    rules: list[list[str]]


async def roles_object(args: BaseModel, identity: Identity, services: Services) -> str:
    return "roles"


async def rules_object(args: BaseModel, identity: Identity, services: Services) -> str:
    return "rules"


async def list_rules(args: NoArgs, identity: Identity, services: Services) -> Rules:
    return Rules(rules=await services.policy.rules())


async def grant(args: RoleArgs, identity: Identity, services: Services) -> Changed:
    return Changed(changed=await services.policy.grant(args.subject, args.role, args.domain))


async def revoke(args: RoleArgs, identity: Identity, services: Services) -> Changed:
    if args.subject == identity.unix_name and args.role == "admin":
        raise VerbFailed("You cannot take your own admin role away; ask another admin.")
    return Changed(changed=await services.policy.revoke(args.subject, args.role, args.domain))


VERBS: tuple[AnyVerb, ...] = (
    Verb("policy.list", NoArgs, Rules, "policy", "read", rules_object, local=list_rules),
    Verb(
        "policy.grant",
        RoleArgs,
        Changed,
        "policy",
        "write",
        roles_object,
        local=grant,
        recent_sign_in=True,
    ),
    Verb(
        "policy.revoke",
        RoleArgs,
        Changed,
        "policy",
        "write",
        roles_object,
        local=revoke,
        recent_sign_in=True,
    ),
)
