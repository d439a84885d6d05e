"""Rules and role assignments live in the database: seeded once, changed, reloaded."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.models import CasbinRule
from tests.policy.conftest import PolicyDatabase, shipped_rules


async def count_rows(database: PolicyDatabase) -> int:
    async with database.engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(CasbinRule))).scalar_one()
        )


async def test_defaults_are_seeded_once(database: PolicyDatabase) -> None:
    policy = await database.load()
    assert [rule[1:] for rule in await policy.rules() if rule[0] == "p"] == shipped_rules()
    await database.load()
    assert await count_rows(database) == len(shipped_rules())


async def test_derived_roles_follow_the_groups(database: PolicyDatabase) -> None:
    policy = await database.load()
    assert await policy.sync_derived_roles("alice", projects=["physics", "chem"], is_admin=True)
    assert await policy.roles_of("alice") == [
        ("admin", "*"),
        ("member", "chem"),
        ("member", "physics"),
        ("user", "*"),
    ]
    assert not await policy.sync_derived_roles(
        "alice", projects=["chem", "physics"], is_admin=True
    ), "nothing changed"
    assert await policy.sync_derived_roles("alice", projects=["bio"], is_admin=False)
    assert await policy.roles_of("alice") == [("member", "bio"), ("user", "*")]
    assert not await policy.enforce("alice", "*", "policy:roles", "write")
    assert await (await database.load()).roles_of("alice") == [("member", "bio"), ("user", "*")]


async def test_grants_survive_sign_ins_and_restarts(database: PolicyDatabase) -> None:
    policy = await database.load()
    await policy.sync_derived_roles("carol", projects=["physics"], is_admin=True)
    assert await policy.grant("carol", "project-admin", "physics")
    assert await policy.grant("carol", "staff", "*")
    assert await policy.grant("carol", "admin", "*"), "granted besides the derived admin"
    assert not await policy.grant("carol", "staff", "*"), "already granted"

    # Leaving the admin group removes the derived admin role, not the granted one.
    await policy.sync_derived_roles("carol", projects=[], is_admin=False)
    expected = [("admin", "*"), ("project-admin", "physics"), ("staff", "*"), ("user", "*")]
    assert await policy.roles_of("carol") == expected
    assert await policy.enforce("carol", "physics", "policy:roles", "write")
    assert await policy.enforce("carol", "physics", "job:bob/1", "cancel")

    restarted = await database.load()
    assert await restarted.roles_of("carol") == expected
    assert await restarted.enforce("carol", "physics", "policy:roles", "write")
    assert ["g", "carol", "user", "*", "derived"] in await restarted.rules()
    assert ["g", "carol", "staff", "*", "granted"] in await restarted.rules()

    # Revoking the grant leaves a derived twin in force, and only derived roles are
    # touched by a sign-in.
    await restarted.sync_derived_roles("carol", projects=[], is_admin=True)
    assert await restarted.revoke("carol", "admin", "*")
    assert not await restarted.revoke("carol", "admin", "*"), "the derived one is not revocable"
    assert await restarted.enforce("carol", "*", "policy:roles", "write")
    assert await restarted.revoke("carol", "project-admin", "physics")
    assert ("project-admin", "physics") not in await restarted.roles_of("carol")

    again = await database.load()
    assert await again.roles_of("carol") == [("admin", "*"), ("staff", "*"), ("user", "*")]
    assert await again.enforce("carol", "*", "policy:roles", "write")
    await again.sync_derived_roles("carol", projects=[], is_admin=False)
    assert await again.revoke("carol", "admin", "*") is False
    assert not await again.enforce("carol", "physics", "job:bob/1", "cancel")
    assert await again.enforce("carol", "physics", "job:bob/1", "read"), "still staff"


async def test_a_derived_twin_stays_in_force_after_a_sign_in_drops_it(
    database: PolicyDatabase,
) -> None:
    policy = await database.load()
    await policy.sync_derived_roles("erin", projects=[], is_admin=True)
    await policy.grant("erin", "admin", "*")
    # Casbin caches role links per request domain: decide once so the caches exist.
    assert await policy.enforce("erin", "*", "policy:roles", "write")
    assert await policy.enforce("erin", "physics", "policy:roles", "write")
    await policy.sync_derived_roles("erin", projects=[], is_admin=False)
    assert await policy.enforce("erin", "*", "policy:roles", "write"), "the grant still holds"
    assert await policy.enforce("erin", "physics", "policy:roles", "write")
    await policy.revoke("erin", "admin", "*")
    assert not await policy.enforce("erin", "*", "policy:roles", "write")
    assert not await (await database.load()).enforce("erin", "*", "policy:roles", "write")


async def test_concurrent_grants_store_one_row(database: PolicyDatabase) -> None:
    policy = await database.load()
    results = await asyncio.gather(*(policy.grant("fred", "staff", "*") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await count_rows(database) == len(shipped_rules()) + 1
