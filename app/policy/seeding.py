"""Default rules reach every site once: added when new, not again after an admin removed one.

The core (``default_policy.csv``) and each tool (``Tool.policy``) bring default rules,
and at every start each source's rules pass through ``seed``. The ``policy_seeded``
table holds one record per default rule this site was ever given:

- a rule with no record is new to the site (a fresh database, a release or a tool
  that brings it): it is added to ``casbin_rule`` unless already there, and recorded;
- a recorded rule missing from ``casbin_rule`` was removed by an administrator (with
  SQL today, as the README says; no policy verb removes ``p`` rules yet, and one that
  did would only need to delete the row): it stays out, and the first start that
  finds it gone logs it once and notes ``removed_at``. Put back, it is present again
  and the note is cleared.

The record's key is the rule itself, not who brought it, so a rule that moves from
the core into a tool's ``Tool.policy`` is not new. A changed rule (a wider action) is
a new rule; taking the old one away is a migration's work, as in 0004. Sites filled
before the record existed are taken over by migration 0006 (see its docstring).

Rules that a setting switches on and off (``project_job_view``) are not defaults:
they go through ``PolicyEnforcer.keep_rule`` and never reach this module.

Portals starting together: the whole check-and-write is one transaction that first
takes the write lock (``LOCK TABLE ... IN EXCLUSIVE MODE`` on PostgreSQL, which
leaves reads alone; a first write on SQLite), so the second portal reads what the
first wrote; the unique constraint on the rule is the backstop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from app.models import CasbinRule, PolicySeeded, utcnow

Rule = tuple[str, str, str, str]
"""A ``p`` rule: role, domain, object pattern, action pattern."""

MAX_SOURCE_LENGTH = 64


@dataclass(frozen=True)
class Seeding:
    """What one ``seed`` call found and did, each list in the order given."""

    # New to this site and written into casbin_rule now.
    added: list[Rule]
    # Given before and found missing for the first time: an administrator removed them.
    removed: list[Rule]
    # The given rules that are in casbin_rule after the call.
    present: list[Rule]


async def seed(engine: AsyncEngine, source: str, rules: Sequence[Rule]) -> Seeding:
    """Give the site those of ``rules`` it never had, recording them as ``source``'s.

    Raises ValueError for an empty or over-long ``source``; database errors pass through
    (the transaction is rolled back, nothing is half-seeded).
    """
    if not source or len(source) > MAX_SOURCE_LENGTH:
        raise ValueError(f"A policy source is a name of 1 to {MAX_SOURCE_LENGTH} characters.")
    wanted = list(dict.fromkeys(rules))
    async with engine.begin() as connection:
        await _take_write_lock(connection)
        records = {
            (row.role, row.domain, row.object, row.action): row.removed_at
            for row in await connection.execute(
                select(
                    col(PolicySeeded.role),
                    col(PolicySeeded.domain),
                    col(PolicySeeded.object),
                    col(PolicySeeded.action),
                    col(PolicySeeded.removed_at),
                )
            )
        }
        present = {
            (str(row.v0), str(row.v1), str(row.v2), str(row.v3))
            for row in await connection.execute(
                select(
                    col(CasbinRule.v0), col(CasbinRule.v1), col(CasbinRule.v2), col(CasbinRule.v3)
                ).where(col(CasbinRule.ptype) == "p", col(CasbinRule.v4).is_(None))
            )
        }
        now = utcnow()
        new = [rule for rule in wanted if rule not in records]
        added = [rule for rule in new if rule not in present]
        if added:
            await connection.execute(
                insert(CasbinRule),
                [
                    {"ptype": "p", **{f"v{i}": value for i, value in enumerate(rule)}}
                    for rule in added
                ],
            )
        if new:
            await connection.execute(
                insert(PolicySeeded),
                [{**_key(rule), "source": source, "seeded_at": now} for rule in new],
            )
        removed = [r for r in wanted if r in records and r not in present and records[r] is None]
        # Put back by hand after it was noted gone.
        back = [r for r in wanted if r in present and records.get(r) is not None]
        for rule in removed:
            await _note_removed(connection, rule, now)
        for rule in back:
            await _note_removed(connection, rule, None)
    return Seeding(added, removed, [rule for rule in wanted if rule in present or rule in added])


async def _take_write_lock(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(text("LOCK TABLE policy_seeded IN EXCLUSIVE MODE"))
    else:
        # SQLite begins the transaction at its first write and takes the write lock
        # there; writing nothing first makes the reads below part of it.
        await connection.execute(text("DELETE FROM policy_seeded WHERE 1 = 0"))


def _key(rule: Rule) -> dict[str, str]:
    role, domain, obj, action = rule
    return {"role": role, "domain": domain, "object": obj, "action": action}


async def _note_removed(connection: AsyncConnection, rule: Rule, when: datetime | None) -> None:
    key = _key(rule)
    await connection.execute(
        update(PolicySeeded)
        .where(
            col(PolicySeeded.role) == key["role"],
            col(PolicySeeded.domain) == key["domain"],
            col(PolicySeeded.object) == key["object"],
            col(PolicySeeded.action) == key["action"],
        )
        .values(removed_at=when)
    )
