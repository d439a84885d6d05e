"""Default rules reach existing sites at start, once, and stay out after an admin removed one.

Each test runs on SQLite and on a fresh PostgreSQL database. An "existing site" is
built the way earlier versions left it: migrated to 0005, its table filled with that
version's core defaults (``PREVIOUS_CORE_RULES`` of migration 0006) and its tools'
rules, then upgraded to this version.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import structlog
from alembic import command
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

import app.policy.defaults
from app.db import REPO_ROOT, alembic_config, create_engine, sync_url
from app.models import CasbinRule, PolicySeeded
from app.policy import PolicyEnforcer, load_policy
from app.policy.defaults import DEFAULT_POLICY_PATH, default_rules, parse_rules
from app.policy.roles import PROJECT_JOB_VIEW
from tests.conftest import ONESTOP, portal_env

# A tool as earlier versions knew it, and the rule a new release of it adds.
TOOL = "hello"
TOOL_RULE = ["user", "*", "greeting:{sub}", "read"]
NEW_TOOL_RULE = ["staff", "*", "greeting:**", "read"]
# The rule this "release" adds to the core's default_policy.csv.
NEW_CORE_LINE = "p, staff, *, notification:**, read"
NEW_CORE_RULE = ["staff", "*", "notification:**", "read"]


def migration_0006() -> ModuleType:
    path = REPO_ROOT / "migrations/versions/0006_policy_seeded.py"
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PREVIOUS_CORE_RULES = [list(rule) for rule in migration_0006().PREVIOUS_CORE_RULES]


@dataclass
class Site:
    url: str
    engine: AsyncEngine

    async def start(self, tool_rules: Sequence[list[str]] = (TOOL_RULE,)) -> PolicyEnforcer:
        """What the portal's start does with policy: the core's defaults (in
        load_policy), then each tool's (``ensure_rules`` is this call per tool)."""
        policy = await load_policy(self.engine, self.url)
        await policy.seed_defaults(TOOL, list(tool_rules))
        return policy

    async def p_rules(self) -> list[list[str]]:
        """The ``p`` rows in the database, each once per row (duplicates show)."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(
                    col(CasbinRule.v0), col(CasbinRule.v1), col(CasbinRule.v2), col(CasbinRule.v3)
                )
                .where(col(CasbinRule.ptype) == "p")
                .order_by(col(CasbinRule.id))
            )
            return [[str(value) for value in row] for row in rows]

    async def records(self) -> dict[tuple[str, ...], tuple[str, bool]]:
        """rule -> (source, noted as removed)."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(PolicySeeded))
            return {
                (row.role, row.domain, row.object, row.action): (
                    row.source,
                    row.removed_at is not None,
                )
                for row in rows
            }

    async def delete_rule(self, rule: list[str]) -> None:
        """An administrator removing a rule with SQL (README: edit casbin_rule)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(CasbinRule).where(
                    col(CasbinRule.ptype) == "p",
                    *(getattr(CasbinRule, f"v{i}") == value for i, value in enumerate(rule)),
                )
            )


def fill_as_an_earlier_version(url: str, rules: Sequence[list[str]]) -> None:
    """Rows as version 0005's start left them (plus a person's derived role)."""
    engine = create_sync_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            insert = text(
                "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES (:t, :a, :b, :c, :d)"
            )
            for rule in rules:
                connection.execute(insert, dict(zip("tabcd", ["p", *rule], strict=True)))
            connection.execute(
                insert, {"t": "g", "a": "alice", "b": "user", "c": "*", "d": "derived"}
            )
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_sync_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def site_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@pytest.fixture
async def fresh(site_url: str) -> AsyncIterator[Site]:
    """A new site: an empty database migrated to head (as ``onestop db upgrade`` does)."""
    command.upgrade(alembic_config(site_url), "head")
    engine = create_engine(site_url)
    try:
        yield Site(site_url, engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def existing(site_url: str) -> AsyncIterator[Site]:
    """A site filled by version 0005, then upgraded to this version."""
    config = alembic_config(site_url)
    command.upgrade(config, "0005")
    fill_as_an_earlier_version(site_url, [*PREVIOUS_CORE_RULES, TOOL_RULE])
    command.upgrade(config, "head")
    engine = create_engine(site_url)
    try:
        yield Site(site_url, engine)
    finally:
        await engine.dispose()


@pytest.fixture
def new_core_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This release's default_policy.csv: the shipped one plus one new rule."""
    csv = tmp_path / "default_policy.csv"
    csv.write_text(DEFAULT_POLICY_PATH.read_text() + NEW_CORE_LINE + "\n")
    monkeypatch.setattr(app.policy.defaults, "DEFAULT_POLICY_PATH", csv)
    assert NEW_CORE_RULE in default_rules() and NEW_CORE_RULE not in PREVIOUS_CORE_RULES
    return NEW_CORE_RULE


async def test_a_fresh_database_gets_every_default_rule(fresh: Site) -> None:
    policy = await fresh.start()
    expected = [*default_rules(), TOOL_RULE]
    assert await fresh.p_rules() == expected, "each default once, in order"
    assert [rule[1:] for rule in await policy.rules() if rule[0] == "p"] == expected
    records = await fresh.records()
    assert records == {
        **{tuple(rule): ("core", False) for rule in default_rules()},
        tuple(TOOL_RULE): (TOOL, False),
    }
    assert await policy.enforce("bob", "*", "greeting:bob", "read") is False, "no role yet"
    await policy.sync_derived_roles("bob", projects=[], is_admin=False)
    assert await policy.enforce("bob", "*", "greeting:bob", "read")

    # Starting again changes nothing.
    await fresh.start()
    assert await fresh.p_rules() == expected
    assert await fresh.records() == records


async def test_a_rule_new_in_this_release_reaches_an_existing_site(
    existing: Site, new_core_rule: list[str]
) -> None:
    before = await existing.p_rules()
    assert new_core_rule not in before and NEW_TOOL_RULE not in before
    policy = await existing.start([TOOL_RULE, NEW_TOOL_RULE])
    after = await existing.p_rules()
    assert after == [*before, new_core_rule, NEW_TOOL_RULE], "added once, nothing else"
    await policy.sync_derived_roles("erin", projects=[], is_admin=False)
    await policy.grant("erin", "staff", "*")
    # In force at once, not only after a reload.
    assert await policy.enforce("erin", "*", "notification:alice/7", "read")
    assert await policy.enforce("erin", "*", "greeting:alice", "read")
    records = await existing.records()
    assert records[tuple(new_core_rule)] == ("core", False)
    assert records[tuple(NEW_TOOL_RULE)] == (TOOL, False)
    assert records[tuple(TOOL_RULE)] == (TOOL, False), "the old tool rule is recorded too"
    await existing.start([TOOL_RULE, NEW_TOOL_RULE])
    assert await existing.p_rules() == after


async def test_a_rule_an_admin_removed_is_not_added_again(fresh: Site) -> None:
    policy = await fresh.start()
    core_rule = ["staff", "*", "session:**", "read"]
    assert core_rule in default_rules()
    # Through the enforcer (what a policy verb would call), and with SQL.
    assert await policy.keep_rule(core_rule, False)
    await fresh.delete_rule(TOOL_RULE)

    with structlog.testing.capture_logs() as first:
        restarted = await fresh.start()
    rules = await fresh.p_rules()
    assert core_rule not in rules and TOOL_RULE not in rules
    assert ["p", *core_rule] not in await restarted.rules()
    assert not await restarted.enforce("sam", "*", "session:alice", "read")
    records = await fresh.records()
    assert records[tuple(core_rule)] == ("core", True)
    assert records[tuple(TOOL_RULE)] == (TOOL, True)
    kept_out = [e for e in first if e["event"] == "policy_default_stays_removed"]
    assert [(e["source"], e["rule"], e["log_level"]) for e in kept_out] == [
        ("core", ", ".join(core_rule), "info"),
        (TOOL, ", ".join(TOOL_RULE), "info"),
    ]

    with structlog.testing.capture_logs() as second:
        await fresh.start()
    assert TOOL_RULE not in await fresh.p_rules()
    assert not [e for e in second if e["event"] == "policy_default_stays_removed"], "logged once"

    # An admin who puts it back gets it back, and it is a seeded rule again.
    assert await restarted.keep_rule(core_rule, True)
    await fresh.start()
    assert (await fresh.p_rules()).count(core_rule) == 1
    assert (await fresh.records())[tuple(core_rule)] == ("core", False)


async def test_a_rule_removed_before_the_record_existed_stays_removed(site_url: str) -> None:
    """A core default missing from a site filled by an earlier version was removed by
    its admin (earlier versions gave every site each of them), so it is not put back,
    even when a tool brings it now; a tool rule missing then was never there to remove
    (earlier versions put tool rules back at every start), so it is added."""
    core_rule = ["staff", "*", "policy:**", "read"]
    moved_rule = ["user", "*", "notebook:{sub}/**", "(start|read|stop|connect)"]
    assert core_rule in default_rules() and moved_rule in PREVIOUS_CORE_RULES
    config = alembic_config(site_url)
    command.upgrade(config, "0005")
    kept = [rule for rule in PREVIOUS_CORE_RULES if rule not in (core_rule, moved_rule)]
    fill_as_an_earlier_version(site_url, kept)
    command.upgrade(config, "head")
    engine = create_engine(site_url)
    try:
        site = Site(site_url, engine)
        policy = await site.start()
        assert await policy.seed_defaults("notebooks", [moved_rule]) == []
        rules = await site.p_rules()
        assert core_rule not in rules and moved_rule not in rules
        assert TOOL_RULE in rules
        records = await site.records()
        assert records[tuple(core_rule)] == ("core", True)
        assert records[tuple(moved_rule)] == ("core", True), "recorded by migration 0006"
        assert records[tuple(TOOL_RULE)] == (TOOL, False)
    finally:
        await engine.dispose()


async def test_project_job_view_is_a_setting_not_a_default(fresh: Site) -> None:
    """The rule ``project_job_view`` switches comes and goes with the setting."""
    policy = await fresh.start()
    assert await policy.keep_rule(PROJECT_JOB_VIEW, True)
    policy = await fresh.start()
    assert not await policy.keep_rule(PROJECT_JOB_VIEW, True), "still there"
    assert await policy.keep_rule(PROJECT_JOB_VIEW, False), "the setting turned off"
    policy = await fresh.start()
    assert await policy.keep_rule(PROJECT_JOB_VIEW, True), "and on again"
    assert (await fresh.p_rules()).count(PROJECT_JOB_VIEW) == 1
    assert tuple(PROJECT_JOB_VIEW) not in await fresh.records()


async def test_portals_starting_together_seed_each_rule_once(fresh: Site) -> None:
    engines = [create_engine(fresh.url) for _ in range(3)]
    try:
        policies = await asyncio.gather(*(Site(fresh.url, e).start() for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    expected = [*default_rules(), TOOL_RULE]
    assert sorted(await fresh.p_rules()) == sorted(expected)
    assert len(await fresh.records()) == len(expected)
    for policy in policies:  # each has every rule in memory, whoever wrote it
        assert sorted(rule[1:] for rule in await policy.rules() if rule[0] == "p") == sorted(
            expected
        )


async def test_a_default_rule_is_four_values(fresh: Site) -> None:
    policy = await load_policy(fresh.engine, fresh.url)
    with pytest.raises(ValueError, match="role, domain, object, action"):
        await policy.seed_defaults(TOOL, [["user", "*", "greeting:x"]])
    with pytest.raises(ValueError, match="policy source"):
        await policy.seed_defaults("", [TOOL_RULE])


def test_migration_0006_upgrades_and_downgrades(site_url: str) -> None:
    config = alembic_config(site_url)
    command.upgrade(config, "0005")
    fill_as_an_earlier_version(site_url, [*PREVIOUS_CORE_RULES, TOOL_RULE])
    # The real command, as a site runs it.
    subprocess.run(
        [ONESTOP, "db", "upgrade"], check=True, env=portal_env(site_url), capture_output=True
    )
    engine = create_sync_engine(sync_url(site_url))
    try:
        with engine.connect() as connection:
            recorded = connection.execute(
                text("SELECT role, domain, object, action, source, removed_at FROM policy_seeded")
            ).all()
            rule_rows = connection.execute(select(func.count()).select_from(CasbinRule)).scalar()
        assert sorted(tuple(row) for row in recorded) == sorted(
            (*rule, "core", None) for rule in PREVIOUS_CORE_RULES
        ), "the previous version's core rules, not the tool's"

        command.downgrade(config, "0005")
        assert "policy_seeded" not in tables(site_url)
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(CasbinRule)).scalar()
        assert count == rule_rows, "the rules themselves stay"
    finally:
        engine.dispose()

    command.upgrade(config, "head")
    assert "policy_seeded" in tables(site_url)


def test_migration_0006_on_an_empty_table_records_nothing(site_url: str) -> None:
    """A database never started is seeded, and recorded, at its first start."""
    command.upgrade(alembic_config(site_url), "head")
    engine = create_sync_engine(sync_url(site_url))
    try:
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(PolicySeeded)).scalar()
        assert count == 0
    finally:
        engine.dispose()


def test_the_previous_core_rules_are_well_formed() -> None:
    lines = "\n".join("p, " + ", ".join(rule) for rule in PREVIOUS_CORE_RULES)
    assert parse_rules(lines, "migration 0006") == PREVIOUS_CORE_RULES
    assert len({tuple(rule) for rule in PREVIOUS_CORE_RULES}) == len(PREVIOUS_CORE_RULES)
