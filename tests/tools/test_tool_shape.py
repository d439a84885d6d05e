"""What a tool declares reaches the right place, and a mismatch fails at start with
both names (app/tools.py, app/verbs/catalog.py, app/settings.py)."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from app.settings import Settings
from app.tools import ToolError, catalog_of, check_sections, discover, load_tools
from app.verbs import CORE_VERBS
from app.verbs.catalog import Verb
from managers.agent.operations import ENTRY_POINT_GROUP, Operation, installed
from tests.tools.test_tool_checks import Nothing, _target, tool

REPO = Path(__file__).resolve().parents[2]


class PathArgs(BaseModel):
    path: str
    flag: bool = False


def takes_a_path(path: str) -> dict[str, str]:
    return {"path": path}


def test_a_verb_and_its_operation_must_agree_at_start() -> None:
    verb = Verb("sample.look", PathArgs, Nothing, "sample", "read", _target, op="sample.look")
    mismatched = tool(
        kinds=["sample"], verbs=[verb], operations={"sample.look": Operation(takes_a_path)}
    )
    with pytest.raises(ToolError) as failed:
        catalog_of(CORE_VERBS, load_tools([mismatched]))
    message = str(failed.value)
    assert "sample.look" in message and "takes_a_path" in message and "flag" in message
    missing = tool(kinds=["sample"], verbs=[verb])
    with pytest.raises(ToolError, match="which no tool has"):
        catalog_of(CORE_VERBS, load_tools([missing]))


def test_a_tool_may_only_register_its_own_operations() -> None:
    stray = tool(operations={"files.stat": Operation(takes_a_path)})
    with pytest.raises(ToolError, match=r"agent operation 'files\.stat'"):
        load_tools([stray])


def test_the_built_in_verbs_match_their_operations() -> None:
    catalog = catalog_of(CORE_VERBS, discover())
    agent_run = [name for name in catalog if catalog[name].op is not None]
    assert "jobs.submit" in agent_run and "files.stat" in agent_run


def test_what_agents_run_is_what_the_tools_declare() -> None:
    """Agents read the onestop.agent_operations entry points, the portal reads
    Tool.operations: the two must be the same tables."""
    tools = {found.name: found for found in discover()}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        assert entry.load() is tools[entry.name].operations, entry.name
    assert set(installed()) == {
        "agent.sleep",
        *(name for found in tools.values() for name in found.operations),
    }


def test_the_agent_package_names_no_tool() -> None:
    for path in sorted((REPO / "managers/agent").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(
                    ("managers.files", "managers.execution", "managers.notebooks", "wrappers")
                ), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith(("files.", "jobs.", "notebooks.")), path.name


class Knobs(BaseModel):
    size: int = Field(default=1, ge=1)
    names: list[str] = []


def test_a_tools_settings_section_comes_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "onestop.toml"
    config.write_text('[notebooks]\ndefault_cores = 3\njupyter_env = "/opt/j"\n')
    monkeypatch.setenv("ONESTOP_CONFIG", str(config))
    monkeypatch.setenv("ONESTOP_NOTEBOOKS__DEFAULT_CORES", "4")
    monkeypatch.setenv("ONESTOP_SAMPLE__NAMES", '["a", "b"]')
    settings = Settings()
    from wrappers.notebooks.settings import notebook_settings

    section = notebook_settings(settings)
    assert section.default_cores == 4, "the environment wins over the file"
    assert section.jupyter_env == "/opt/j"
    assert settings.section("sample", Knobs).names == ["a", "b"]


def test_a_section_no_tool_owns_or_a_bad_value_fails_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ONESTOP_CONFIG", "/nonexistent.toml")
    with pytest.raises(ToolError, match="no tool of that name"):
        check_sections(Settings(notebokes={"default_cores": 2}), discover())
    with pytest.raises(ToolError, match=r"\[notebooks\] settings"):
        check_sections(Settings(notebooks={"default_cores": 0}), discover())
    check_sections(Settings(notebooks={"default_cores": 2}), discover())
