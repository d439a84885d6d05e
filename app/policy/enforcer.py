"""The policy decision point the verb gate calls: Casbin over the portal database.

Rules and role assignments live in the ``casbin_rule`` table, read once at start
into memory; every change goes to the database first (Casbin's auto-save through
the adapter) and then to memory. Decisions are made in memory and take
microseconds, so ``enforce`` runs on the event loop.

Every role assignment row carries a marker in ``v3``: ``derived`` for the rows
``sync_derived_roles`` computes from Unix groups at sign-in, ``granted`` for the rows
an administrator adds with ``grant``. Each kind is changed only by its own method,
so a sign-in never removes a granted role and a revoke never removes a derived one.

Default rules (the core's and each tool's) enter through ``seed_defaults`` only,
which adds a rule new to the site and never one an administrator removed (see
seeding.py); ``keep_rule`` is for rules a setting switches on and off.

Several portal instances each hold their own copy: one instance's change reaches the
others at their next ``reload`` (a policy watcher can call it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import casbin
from casbin_async_sqlalchemy_adapter import Adapter
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import check_schema
from app.logs import get_logger
from app.models import CasbinRule
from app.policy.canonical import check_action, check_canonical, check_domain
from app.policy.defaults import MODEL_PATH, default_rules
from app.policy.matching import action_match, domain_match, object_match
from app.policy.roles import (
    DERIVED,
    GRANTED,
    RoleAssignment,
    check_principal,
    check_role,
    check_subject,
    derived_roles,
)
from app.policy.seeding import Rule, seed

CORE = "core"
"""The source name of the portal's own default rules (``default_policy.csv``)."""

log = get_logger("onestop.policy")


class PolicyEnforcer:
    """Decides requests and keeps role assignments, in memory and in the database."""

    def __init__(self, enforcer: casbin.AsyncEnforcer, engine: AsyncEngine) -> None:
        self._enforcer = enforcer
        self._engine = engine
        # Casbin checks "already present?" before its awaited database write, so two
        # concurrent changes could both pass the check; one change at a time.
        self._lock = asyncio.Lock()

    async def enforce(self, subject: str, domain: str, obj: str, action: str) -> bool:
        """True if ``subject`` working in ``domain`` may do ``action`` on ``obj``.

        ``subject`` is a person's Unix name or a service principal (``service:...``,
        which holds no role: only rules naming it count). ``obj`` must already be
        canonical (``canonical_object``); malformed input raises PolicyInputError
        rather than being judged.
        """
        check_principal(subject)
        check_domain(domain)
        check_canonical(obj)
        check_action(action)
        return bool(self._enforcer.enforce(subject, domain, obj, action))

    async def grant(self, subject: str, role: str, domain: str) -> bool:
        """Give ``subject`` ``role`` in ``domain`` (``*`` for all); False if already granted."""
        rule = [check_subject(subject), check_role(role), check_domain(domain), GRANTED]
        async with self._lock:
            return bool(await self._enforcer.add_grouping_policy(rule))

    async def revoke(self, subject: str, role: str, domain: str) -> bool:
        """Take back a granted role; False if it was not granted.

        Roles derived from Unix groups are not revoked here: they follow the groups.
        """
        rule = [check_subject(subject), check_role(role), check_domain(domain), GRANTED]
        async with self._lock:
            return await self._remove(rule)

    async def roles_of(self, subject: str) -> list[RoleAssignment]:
        """Every (role, domain) ``subject`` holds, granted or derived, sorted."""
        rows = self._enforcer.get_filtered_grouping_policy(0, check_subject(subject))
        return sorted({(str(row[1]), str(row[2])) for row in rows})

    async def rules(self) -> list[list[str]]:
        """All rows as Casbin lines: ``["p", role, domain, object, action]`` and
        ``["g", subject, role, domain, marker]``."""
        rules = [["p", *map(str, row)] for row in self._enforcer.get_policy()]
        rules += [["g", *map(str, row)] for row in self._enforcer.get_grouping_policy()]
        return rules

    async def sync_derived_roles(
        self, unix_name: str, *, projects: list[str], is_admin: bool
    ) -> bool:
        """Make ``unix_name``'s derived assignments exactly what the Unix groups give.

        That is ``user`` in ``*``, ``member`` in each project, and ``admin`` in ``*`` when
        ``is_admin``. Granted assignments are left alone. Returns True if anything
        changed.
        """
        check_subject(unix_name)
        wanted = derived_roles(projects, is_admin=is_admin)
        async with self._lock:
            rows = self._enforcer.get_filtered_grouping_policy(0, unix_name)
            held = {(row[1], row[2]) for row in rows if row[3:4] == [DERIVED]}
            for role, domain in sorted(held - wanted):
                await self._remove([unix_name, role, domain, DERIVED])
            added = [[unix_name, role, domain, DERIVED] for role, domain in sorted(wanted - held)]
            if added:
                await self._enforcer.add_grouping_policies(added)
        return held != wanted

    async def seed_defaults(self, source: str, rules: Sequence[Sequence[str]]) -> list[list[str]]:
        """Add those of ``source``'s default ``p`` rules this site never had; the added ones.

        ``source`` is ``core`` or a tool's name; ``rules`` are ``[role, domain, object,
        action]``. A rule given before and since removed stays out (logged the first
        time it is found gone). Rules in the database but not yet in memory (another
        portal seeded them) are taken into memory too. Raises ValueError for a rule
        that is not four values or a bad ``source``.
        """
        batch: list[Rule] = []
        for rule in rules:
            if len(rule) != 4:
                raise ValueError(f"A default rule is role, domain, object, action: {rule!r}")
            batch.append((rule[0], rule[1], rule[2], rule[3]))
        async with self._lock:
            done = await seed(self._engine, source, batch)
            for rule in done.present:
                self._enforcer.model.add_policy("p", "p", list(rule))
        for rule in done.added:
            log.info("policy_default_added", source=source, rule=", ".join(rule))
        for rule in done.removed:
            log.info(
                "policy_default_stays_removed",
                source=source,
                rule=", ".join(rule),
                reason="given before and removed since; not added again",
            )
        return [list(rule) for rule in done.added]

    async def keep_rule(self, rule: list[str], wanted: bool) -> bool:
        """Make one ``p`` rule present or absent (a rule a setting switches on or off,
        not a default: the seeding record never sees it); True if that changed anything."""
        async with self._lock:
            if wanted:
                return bool(await self._enforcer.add_policy(*rule))
            return bool(await self._enforcer.remove_policy(*rule))

    async def reload(self) -> None:
        """Read every rule from the database again (after another instance changed it)."""
        async with self._lock:
            await self._enforcer.load_policy()

    async def _remove(self, rule: list[str]) -> bool:
        # One row at a time: the adapter's bulk delete matches the cross product of
        # the rows' values. A twin (same subject, role and domain, other marker) shares
        # one link in Casbin's role manager, which removing either row would drop, so
        # then the links are rebuilt from the rows.
        removed = bool(await self._enforcer.remove_grouping_policy(rule))
        twins = self._enforcer.get_filtered_grouping_policy(0, *rule[:3])
        if removed and twins:
            self._enforcer.build_role_links()
        return removed


async def load_policy(engine: AsyncEngine, url: str) -> PolicyEnforcer:
    """The enforcer for the database at ``url``, with the core's default rules seeded.

    Raises SchemaBehindError when the database lacks the policy tables' migrations.
    """
    await check_schema(engine, url)
    enforcer = casbin.AsyncEnforcer(str(MODEL_PATH), Adapter(engine, db_class=CasbinRule))
    enforcer.add_function("objectMatch", object_match)
    enforcer.add_function("actionMatch", action_match)
    enforcer.add_named_domain_matching_func("g", domain_match)
    # Role names match by equality. Casbin's default for domain role managers is an
    # equality *function*, which makes it compare every new link with every known
    # name: quadratic, about a second for 2,000 people. None takes the direct path.
    enforcer.add_named_matching_func("g", None)
    await enforcer.load_policy()
    policy = PolicyEnforcer(enforcer, engine)
    await policy.seed_defaults(CORE, default_rules())
    return policy
