"""What the plugin interface refuses before anything is mounted (app/tools.py)."""

from __future__ import annotations

import ast
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.tools import (
    ENTRY_POINT_GROUP,
    Tool,
    ToolError,
    catalog_of,
    discover,
    followers_of,
    load_tools,
)
from app.verbs import CORE_VERBS
from app.verbs.catalog import NoArgs, Verb


class Nothing(BaseModel):
    pass


async def _target(args: object, identity: object, services: object) -> str:
    return "x"


async def _local(args: object, identity: object, services: object) -> Nothing:
    return Nothing()


def tool(name: str = "sample", **fields: object) -> Tool:
    return Tool(name=name, title=name.title(), url=f"/{name}", routes=[], **fields)  # type: ignore[arg-type]


def test_rules_may_only_name_the_tools_own_kinds() -> None:
    with pytest.raises(ToolError, match="own object kinds"):
        load_tools([tool(kinds=["sample"], policy=["p, user, *, file:/**, write"])])
    with pytest.raises(ToolError, match="own object kinds"):
        load_tools([tool(kinds=["sample"], policy=["p, user, *, **, .*"])])
    loaded = load_tools([tool(kinds=["sample"], policy=["p, user, *, sample:{sub}/**, read"])])
    assert loaded[0].rules() == [["user", "*", "sample:{sub}/**", "read"]]


def test_a_services_rule_names_its_own_principal_and_plain_actions() -> None:
    worker = "service:sample-worker"
    # The tool's own principal may be given a right on another kind, named one by one.
    loaded = load_tools(
        [
            tool(
                kinds=["sample"],
                principals=[worker],
                policy=[
                    f"p, {worker}, *, job:**, read",
                    f"p, {worker}, *, file:/**/state.json, (read|stat)",
                ],
            )
        ]
    )
    assert [rule[0] for rule in loaded[0].rules()] == [worker, worker]
    # Not another tool's principal, nor one it does not declare.
    with pytest.raises(ToolError, match="not one of its own service principals"):
        load_tools(
            [
                tool(
                    kinds=["sample"],
                    policy=["p, service:public-links, *, file:/**, read-published"],
                )
            ]
        )
    # Not everything, nor a pattern that could grow to other actions.
    for obj, action in [
        ("**", "read"),
        ("job:**", ".*"),
        ("job:**", "rea."),
        ("job:**", "(read|.*)"),
    ]:
        with pytest.raises(ToolError, match="one by one"):
            load_tools(
                [
                    tool(
                        kinds=["sample"],
                        principals=[worker],
                        policy=[f"p, {worker}, *, {obj}, {action}"],
                    )
                ]
            )
    # A role's rule still names only the tool's own kinds.
    with pytest.raises(ToolError, match="own object kinds"):
        load_tools(
            [tool(kinds=["sample"], principals=[worker], policy=["p, user, *, job:**, read"])]
        )


def test_a_service_principal_is_spelled_right_and_declared_once() -> None:
    with pytest.raises(ToolError, match="not a service principal"):
        load_tools([tool(principals=["worker"])])
    with pytest.raises(ToolError, match="already does"):
        load_tools([tool("one", principals=["service:x"]), tool("two", principals=["service:x"])])
    catalog = catalog_of(CORE_VERBS, load_tools([tool(principals=["service:x"])]))
    assert catalog.principals == {"service:x"}
    assert catalog_of(CORE_VERBS, []).principals == frozenset()


def test_a_malformed_rule_names_the_tool() -> None:
    with pytest.raises(ToolError, match="tool sample's policy line 1"):
        load_tools([tool(kinds=["sample"], policy=["p, nobody-role, *, sample:x, read"])])


def test_two_tools_cannot_own_one_kind_or_share_a_name() -> None:
    with pytest.raises(ToolError, match="already owns"):
        load_tools([tool("one", kinds=["thing"]), tool("two", kinds=["thing"])])
    with pytest.raises(ToolError, match="two tools are called"):
        load_tools([tool("one"), tool("one")])


def test_a_missing_verb_fails_at_start_with_its_name() -> None:
    with pytest.raises(ToolError, match=r"does not have: jobs\.teleport"):
        catalog_of(
            CORE_VERBS, [*discover(), *load_tools([tool(uses=["jobs.submit", "jobs.teleport"])])]
        )


def test_a_tools_verbs_carry_its_name_and_are_registered() -> None:
    stray = Verb("other.thing", NoArgs, Nothing, "sample", "read", _target, local=_local)
    with pytest.raises(ToolError, match=r"must start with sample\."):
        load_tools([tool(kinds=["sample"], verbs=[stray])])
    own = Verb("sample.thing", NoArgs, Nothing, "sample", "read", _target, local=_local)
    first = catalog_of(CORE_VERBS, load_tools([tool(kinds=["sample"], verbs=[own])]))
    assert first["sample.thing"] is own
    # A second portal in one process has a catalog of its own; without the tool, no verb.
    second = catalog_of(CORE_VERBS, load_tools([tool(kinds=["sample"], verbs=[own])]))
    assert second["sample.thing"] is own and second is not first
    assert "sample.thing" not in catalog_of(CORE_VERBS, [])


def test_one_follower_key_per_portal() -> None:
    async def follow(*args: object) -> None:
        return None

    with pytest.raises(ToolError, match="follows 'watch'"):
        followers_of(
            [tool("one", followers={"watch": follow}), tool("two", followers={"watch": follow})]
        )


def test_the_built_in_tools_arrive_through_entry_points() -> None:
    names = [found.name for found in discover()]
    assert {"jobs", "files", "notifications"} <= set(names)
    assert "files" not in [found.name for found in discover(disabled=["files"])]


def _packages() -> list[tuple[str, Path]]:
    found = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        spec = importlib.util.find_spec(entry.module)
        assert spec is not None and spec.origin is not None
        found.append((entry.name, Path(spec.origin).parent))
    return found


@pytest.mark.parametrize(("name", "package"), _packages(), ids=lambda value: str(value))
def test_a_tool_declares_every_verb_its_code_names(name: str, package: Path) -> None:
    """``uses`` is what a reviewer reads to know what a tool can do; it must be whole."""
    found = next(each for each in discover() if each.name == name)
    catalog = catalog_of(CORE_VERBS, discover())
    named: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Constant) and node.value in catalog:
                named.add(node.value)
    own = {verb.name for verb in found.verbs}
    assert named, f"{name}: no verb found in {package}"
    assert named - own <= set(found.uses), f"{name} names verbs it does not declare"
