"""Tools reach Slurm, files and the network only through verbs.

Every module of app/ and wrappers/ is read with ``ast``; imports of I/O modules and
of the managers' machinery are allowed only where this table says why.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BANNED = (
    "subprocess",
    "socket",
    "shutil",
    "os",
    "pathlib",
    "ssl",
    "httpx",
    "requests",
    "aiohttp",
    "urllib.request",
    "asyncio.subprocess",
    "managers.agent",
    "managers.files",
    "managers.execution",
    "managers.scheduler.slurm",
    "managers.cluster_watcher",
)

ALLOWED = {
    "app/main.py": "builds the app: wires managers into the verb gate",
    "app/cli.py": "the command line: launcher, gateway, server",
    "app/verbs/gate.py": "the gate itself dispatches to agents and managers",
    "app/verbs/services.py": "the typed services verbs are handed name the managers' types",
    "app/verbs/catalog.py": "checks agent-run verbs against their operations' signatures",
    "wrappers/jobs/__init__.py": "declares the agent operations its verbs run",
    "wrappers/files/__init__.py": "declares the agent operations its verbs run",
    "app/verbs/descriptors.py": "reads and writes the descriptors agents hand over",
    "wrappers/files/verbs/transfer.py": "the upload-name rule is the agent's own (one definition)",
    "app/db.py": "creates the SQLite file's folder",
    "app/settings.py": "finds the configuration file",
    "app/policy/defaults.py": "reads the default policy shipped with the code",
    "app/auth/oidc.py": "talks to the identity provider (tier one, not a tool)",
    "app/auth/routes.py": "maps provider outages to a page",
    "app/auth/identity.py": "asks the group database (os.getgrouplist)",
    "app/realtime/fragments.py": "renders the watcher's own cluster events",
    "wrappers/jobs/fragments.py": "renders the watcher's own job events",
    "wrappers/notebooks/proxy/forward.py": "the reverse proxy: talks HTTP to notebook servers",
    "wrappers/notebooks/proxy/probe.py": "asks a notebook server whether it is up",
    "app/tools.py": "names each tool's template folder (a Path); opens nothing",
    "app/web/templating.py": "hands the tools' template folders to Jinja's loader",
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def banned(name: str) -> bool:
    return any(name == ban or name.startswith(ban + ".") for ban in BANNED)


def test_tools_and_pages_import_no_io_or_manager_machinery() -> None:
    offenders = []
    for folder in ("app", "wrappers"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = str(path.relative_to(REPO))
            if relative in ALLOWED:
                continue
            offenders += [f"{relative}: {name}" for name in imports_of(path) if banned(name)]
    assert offenders == [], "use a verb instead:\n" + "\n".join(offenders)


def test_the_check_would_catch_an_offender(tmp_path: Path) -> None:
    module = tmp_path / "tool.py"
    module.write_text("import subprocess\nfrom managers.agent.client import AgentClient\n")
    assert {name for name in imports_of(module) if banned(name)} == {
        "subprocess",
        "managers.agent.client",
    }


def test_every_allowance_is_still_needed() -> None:
    for relative in ALLOWED:
        assert any(banned(name) for name in imports_of(REPO / relative)), relative
