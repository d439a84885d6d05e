"""Tools reach Slurm, files and the network only through verbs.

Every module of app/ and wrappers/ is read with ``ast``; imports of I/O modules and
of the managers' machinery are allowed only where this table says why. Nothing
outside the gate (app/verbs/) reaches the services it holds, and only the managers
and the code that builds the portal hold an agent client.
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
    "wrappers/notebooks/nginx/__init__.py": "the admin's command that renders the nginx block",
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
    "wrappers/notebooks/proxy/sweep.py": "asks notebook servers to close ended passes' sockets",
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


# The agents are reached through the gate's services, which only app/verbs/ uses; a
# client of its own is made only where the portal (or the agent gateway) is built.
AGENT_CLIENTS = ("managers.agent.client", "managers.agent.remote")
CLIENT_ALLOWED = {
    "app/main.py": "builds the app: makes the agent client the gate's services hold",
    "app/cli.py": "the command line: the agent gateway holds a client of its own",
}


def services_reached(path: Path) -> list[str]:
    """Each place ``path`` touches an attribute called ``services``, on anything
    (``request.app.state.verbs.services``, ``self.services``, ``getattr(x, "services")``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "services":
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "services"
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def agent_clients(path: Path) -> set[str]:
    return {
        name
        for name in imports_of(path)
        if any(name == client or name.startswith(client + ".") for client in AGENT_CLIENTS)
    }


def modules(*folders: str) -> list[tuple[str, Path]]:
    return [
        (str(path.relative_to(REPO)), path)
        for folder in folders
        for path in sorted((REPO / folder).rglob("*.py"))
    ]


def test_nothing_outside_the_gate_reaches_its_services() -> None:
    offenders = [
        f"{relative} {where}"
        for relative, path in modules("app", "wrappers", "managers", "examples")
        if not relative.startswith("app/verbs/")
        for where in services_reached(path)
    ]
    assert offenders == [], "call a verb (or call_as_service) instead:\n" + "\n".join(offenders)


def test_only_the_managers_and_the_builders_hold_an_agent_client() -> None:
    offenders = [
        f"{relative}: {name}"
        for relative, path in modules("app", "wrappers", "examples")
        if not relative.startswith("app/verbs/") and relative not in CLIENT_ALLOWED
        for name in sorted(agent_clients(path))
    ]
    assert offenders == [], "call a verb instead:\n" + "\n".join(offenders)


def test_the_services_check_would_catch_an_offender(tmp_path: Path) -> None:
    module = tmp_path / "page.py"
    module.write_text(
        "async def page(request):\n"
        "    agents = request.app.state.verbs.services.agents\n"
        "    return getattr(request.app.state.verbs, 'services')\n"
        "from managers.agent.remote import RemoteAgentClient\n"
    )
    assert len(services_reached(module)) == 2
    assert agent_clients(module) == {"managers.agent.remote"}


def test_every_client_allowance_is_still_needed() -> None:
    for relative in CLIENT_ALLOWED:
        assert agent_clients(REPO / relative), relative
