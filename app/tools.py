"""The plugin interface: how a tool (jobs, files, notebooks, yours) joins the portal.

A tool is a ``Tool`` value that a Python package names under the entry point group
``onestop.wrappers``. At start the portal loads every such entry point, checks what
the tool asks for, and then mounts its pages, adds its templates, its navigation
link and its dashboard card, registers the verbs it brings, lets its pages follow
things over ``/ws``, and gives the site the default policy rules it never had.

What a tool may not do is decided here, before anything is mounted: its policy rules
for roles may only speak of the object kinds it declares, so installing a tool never
widens what anyone may do with files, jobs or anything else that belongs to another
tool; a rule for one of its own service principals (the part of it that acts for a
person nobody signed in as) may name another kind, but only with plain actions, and
no person or role ever holds it; and every verb it says it uses must exist, so a
tool written for another release fails at start with its name in the message
instead of at a user's first click.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlmodel import SQLModel
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from app.logs import get_logger
from app.origins import HostClaim, host_of
from app.policy.defaults import parse_rules
from app.policy.errors import PolicyInputError
from app.policy.roles import check_service, is_service
from app.realtime.render import CatchUp, ProjectAccess, Renderer
from app.verbs.catalog import Catalog, Verb
from app.web.words import ClaimJob
from managers.agent.operations import Operation

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from app.audit import Auditor
    from app.policy import PolicyEnforcer
    from app.realtime.ws import Follower
    from app.settings import Settings
    from app.verbs.gate import VerbGate
    from app.verbs.services import Services

V = TypeVar("V")

ENTRY_POINT_GROUP = "onestop.wrappers"
# The core's own verbs (app/verbs/__init__.py): no tool may name its verbs so.
CORE_NAMESPACES = frozenset({"cluster", "policy", "sessions", "agent"})

log = get_logger("onestop.tools")

# The actions of a service principal's rule: named one by one ("read", "(read|warn)"),
# never a pattern that could grow to cover another verb's action.
PLAIN_ACTIONS = re.compile(r"[a-z][a-z0-9_-]*|\([a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)*\)")

# card_context(request) -> what the tool's card template needs besides the
# dashboard's own context (identity, projects, snapshot, jobs).
CardContext = Callable[[Request], Awaitable[dict[str, Any]]]
# lifespan(app): background work that lives as long as the portal (a monitor).
Lifespan = Callable[["Starlette"], contextlib.AbstractAsyncContextManager[None]]
# provides(services) -> the tool's own service (a store of its records), or a tuple
# of them, which its verbs then ask for by type: ``services.own(TemplateStore)``.
Provides = Callable[["Services"], Awaitable[object]]
# own_origins(settings) -> claim, where claim(host) is the ASGI app that answers every
# request and WebSocket sent to ``host`` (a host name of the tool's own, never the
# portal's: the notebooks tool's one per session), or None. Asked before anything
# else (app/origins.py): such a request never meets the portal's sessions, cookies,
# checks or routes.
OwnOrigins = Callable[["Settings"], HostClaim]


@dataclass(frozen=True)
class ContextSection:
    """One part of what a page shows, in words for the person who helps (a job's state,
    a file's permissions): what ``Tool.page_context`` answers."""

    key: str
    title: str
    text: str


# page_context(request, page) -> what the tool's page at ``page`` (a path with its
# query, the page someone asks for help from) shows, read through verbs as the viewer;
# empty for a page that is not the tool's own. A help tool asks every tool.
PageContext = Callable[[Request, str], Awaitable[Sequence[ContextSection]]]


class ToolError(Exception):
    """A tool that cannot be loaded as it is; the message names the tool."""


@dataclass(frozen=True)
class Card:
    """A card on the dashboard: a template from the tool's folder, rendered in the
    dashboard's context plus what ``context`` adds."""

    template: str
    context: CardContext | None = None
    # A card holding a table takes a whole row of the dashboard.
    wide: bool = False


@dataclass(frozen=True)
class Tool:
    # A short lowercase name: the entry point's name, and the first part of its verbs.
    name: str
    # The navigation label, and where it leads ("" for a tool with no page of its own).
    title: str
    url: str
    routes: Sequence[BaseRoute]
    # Its Jinja templates, searched after the portal's own: a folder, or the name of
    # its package, whose ``templates/`` folder holds them (found with importlib, so
    # an installed wheel works as a checkout does).
    templates: Path | str | None = None
    card: Card | None = None
    # A template from its folder shown in the navigation bar of every page, after the
    # links (the notifications bell).
    nav_item: str | None = None
    # A template from its folder shown on every signed-in page, below the page's own
    # content (the help tool's "Get help"); ``request`` is in its context.
    page_action: str | None = None
    # What its own pages show, for someone asked for help from one (see PageContext).
    page_context: PageContext | None = None
    # Verbs this tool brings: in the gate's catalog while the tool is enabled. Their
    # names start with the tool's name, or with one of ``namespaces``.
    verbs: Sequence[Verb[Any, Any]] = ()
    namespaces: Sequence[str] = ()
    # Verbs of the portal or of other tools that this tool calls.
    uses: Sequence[str] = ()
    # Casbin object kinds this tool owns ("notebook" for notebook:alice/4f2a...).
    kinds: Sequence[str] = ()
    # Default rules, policy.csv lines ("p, user, *, greeting:{sub}/**, read"), added
    # at the first start that brings them and not again once an admin removed one
    # (app/policy/seeding.py); they may only name the kinds above.
    policy: Sequence[str] = ()
    # Service principals it acts as ("service:public-links"): a part of the tool that
    # works for a person nobody signed in as (a public link's page, a monitor), through
    # ``gate.call_as_service``. Each is a subject of its own in the rules above, which
    # may name other kinds for it, with plain actions only; it holds no role.
    principals: Sequence[str] = ()
    # Things its pages may follow over /ws (see app/realtime/ws.py).
    followers: Mapping[str, Follower] = field(default_factory=dict)
    # Live events it renders, by the event's "kind" (app/realtime/render.py): the /ws
    # fan-out asks the tool that owns a kind to render it for each viewer.
    renderers: Mapping[str, Renderer] = field(default_factory=dict)
    # The events that bring a freshly connected /ws up to date (its page was rendered
    # a moment ago; something may have changed since).
    catch_up: CatchUp | None = None
    # Jobs it starts for people (a notebook session's): their words in job lists and
    # notifications, and the page they belong to (app/web/words.py JobClaim).
    claim_job: ClaimJob | None = None
    # Which projects' channels a viewer's /ws also follows for this tool's events.
    project_access: ProjectAccess | None = None
    # Background work that lives as long as the portal (a monitor).
    lifespan: Lifespan | None = None
    # Its settings section: a model read from ``[<name>]`` in the TOML file and
    # ``ONESTOP_<NAME>__*`` variables (app/settings.py, ``settings.section``).
    settings: type[BaseModel] | None = None
    # Its tables; they join the portal's one Alembic history (migrations/env.py).
    models: Sequence[type[SQLModel]] = ()
    # The agent operations its verbs run, the same mapping it registers under the
    # ``onestop.agent_operations`` entry point (agents read only that).
    operations: Mapping[str, Operation] = field(default_factory=dict)
    provides: Provides | None = None
    # Whole hosts it serves itself, apart from the portal's origin (see OwnOrigins).
    own_origins: OwnOrigins | None = None
    # Path prefixes anyone may open without signing in, because the tool checks a
    # capability of its own there (the files tool's public links, ``/p/``).
    public_prefixes: Sequence[str] = ()
    # Where its link and card sit among the others (smaller first).
    order: int = 100

    def rules(self) -> list[list[str]]:
        """Its default rules as ``[role, domain, object, action]``."""
        try:
            return parse_rules("\n".join(self.policy), source=f"tool {self.name}'s policy")
        except ValueError as error:
            raise ToolError(str(error)) from None


def discover(disabled: Iterable[str] = ()) -> list[Tool]:
    """Every installed tool that is not disabled, checked, in display order."""
    skip = set(disabled)
    found: list[Tool] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name in skip:
            log.info("tool_disabled", tool=entry.name)
            continue
        found.append(_load(entry))
    return load_tools(found)


def installed_models() -> list[type[SQLModel]]:
    """The tables of every installed tool, enabled or not (migrations/env.py): the
    database has one history whatever a site switches off."""
    entries = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    return [model for entry in entries for model in _load(entry).models]


def load_tools(tools: Sequence[Tool]) -> list[Tool]:
    """Check the tools together and order them (their verbs join a catalog later,
    ``catalog_of``)."""
    seen: set[str] = set()
    kinds: dict[str, str] = {}
    spaces: dict[str, str] = {}
    principals: dict[str, str] = {}
    for tool in tools:
        if tool.name in seen:
            raise ToolError(f"two tools are called {tool.name!r}")
        seen.add(tool.name)
        for space in (tool.name, *tool.namespaces):
            if space in spaces or space in CORE_NAMESPACES:
                raise ToolError(
                    f"tool {tool.name!r} names verbs {space}.*, which "
                    f"{spaces.get(space, 'the core')!r} already does"
                )
            spaces[space] = tool.name
        for kind in tool.kinds:
            if kind in kinds:
                raise ToolError(
                    f"tool {tool.name!r} declares the object kind {kind!r}, "
                    f"which tool {kinds[kind]!r} already owns"
                )
            kinds[kind] = tool.name
        for principal in tool.principals:
            try:
                check_service(principal)
            except PolicyInputError as error:
                raise ToolError(f"tool {tool.name!r}: {error}") from None
            if principal in principals:
                raise ToolError(
                    f"tool {tool.name!r} declares the service principal {principal}, "
                    f"which tool {principals[principal]!r} already does"
                )
            principals[principal] = tool.name
        _check_rules(tool)
    for tool in tools:
        own = (tool.name, *tool.namespaces)
        for verb in tool.verbs:
            if verb.name.partition(".")[0] not in own:
                raise ToolError(
                    f"tool {tool.name!r} brings verb {verb.name!r}: its name must start "
                    f"with {tool.name}."
                )
        for op in tool.operations:
            if not op.startswith(f"{tool.name}."):
                raise ToolError(f"tool {tool.name!r} brings agent operation {op!r}")
    ordered = sorted(tools, key=lambda tool: (tool.order, tool.name))
    log.info("tools_loaded", tools=[tool.name for tool in ordered])
    return ordered


def _load(entry: EntryPoint) -> Tool:
    try:
        tool = entry.load()
    except Exception as error:
        raise ToolError(f"tool {entry.name!r} ({entry.value}) failed to load: {error}") from error
    if not isinstance(tool, Tool):
        raise ToolError(f"entry point {entry.name!r} ({entry.value}) is not an app.tools.Tool")
    if tool.name != entry.name:
        raise ToolError(f"entry point {entry.name!r} names a tool called {tool.name!r}")
    return tool


def _check_rules(tool: Tool) -> None:
    for subject, _domain, obj, action in tool.rules():
        kind, colon, _ = obj.partition(":")
        if is_service(subject):
            if subject not in tool.principals:
                raise ToolError(
                    f"tool {tool.name!r} gives a rule to {subject}, which is not one of "
                    "its own service principals (Tool.principals)"
                )
            if not colon or not PLAIN_ACTIONS.fullmatch(action):
                raise ToolError(
                    f"tool {tool.name!r}'s rule for {subject} must name one kind of object "
                    f"and its actions one by one, not {obj!r} and {action!r}"
                )
            continue
        if not colon or kind not in tool.kinds:
            raise ToolError(
                f"tool {tool.name!r} may only give rules on its own object kinds "
                f"({', '.join(tool.kinds) or 'none declared'}), not {obj!r}"
            )


async def ensure_rules(policy: PolicyEnforcer, tools: Sequence[Tool]) -> None:
    """Give the site each tool's default rules that it never had (they cannot reach
    other kinds); a rule an administrator removed stays removed (app/policy/seeding.py)."""
    for tool in tools:
        await policy.seed_defaults(tool.name, tool.rules())


@contextlib.asynccontextmanager
async def running(app: Starlette, tools: Sequence[Tool]) -> AsyncIterator[None]:
    """Every tool's own lifespan, entered in order and left in reverse."""
    async with contextlib.AsyncExitStack() as stack:
        for tool in tools:
            if tool.lifespan is not None:
                await stack.enter_async_context(tool.lifespan(app))
        yield


def routes_of(tools: Sequence[Tool]) -> list[BaseRoute]:
    return [route for tool in tools for route in tool.routes]


def _merged(
    tools: Sequence[Tool], pick: Callable[[Tool], Mapping[str, V]], what: str
) -> dict[str, V]:
    """One mapping from each tool's own, where no two tools may claim a key."""
    merged: dict[str, V] = {}
    for tool in tools:
        for key, value in pick(tool).items():
            if key in merged:
                raise ToolError(f"tool {tool.name!r} {what} {key!r}, which another tool does")
            merged[key] = value
    return merged


def followers_of(tools: Sequence[Tool]) -> dict[str, Follower]:
    return _merged(tools, lambda tool: tool.followers, "follows")


def template_folders(tools: Sequence[Tool]) -> list[Path]:
    folders: list[Path] = []
    for tool in tools:
        if isinstance(tool.templates, str):
            folders.append(Path(str(resources.files(tool.templates) / "templates")))
        elif tool.templates is not None:
            folders.append(tool.templates)
    return folders


def catalog_of(core: Iterable[Verb[Any, Any]], tools: Sequence[Tool]) -> Catalog:
    """The gate's catalog: the core's verbs and every enabled tool's, with each verb a
    tool uses present and each agent-run verb matching its operation's signature."""
    try:
        catalog = Catalog([*core, *(verb for tool in tools for verb in tool.verbs)])
    except ValueError as error:
        raise ToolError(str(error)) from None
    catalog.add_principals(*(name for tool in tools for name in tool.principals))
    for tool in tools:
        missing = [name for name in tool.uses if name not in catalog]
        if missing:
            raise ToolError(
                f"tool {tool.name!r} uses verbs this portal does not have: {', '.join(missing)}"
            )
    try:
        catalog.check_operations(operations_of(tools))
    except ValueError as error:
        raise ToolError(str(error)) from None
    return catalog


def operations_of(tools: Sequence[Tool]) -> dict[str, Operation]:
    from managers.agent.operations import merge

    try:
        return merge({tool.name: tool.operations for tool in tools})
    except ValueError as error:
        raise ToolError(str(error)) from None


def renderers_of(tools: Sequence[Tool]) -> dict[str, Renderer]:
    return _merged(tools, lambda tool: tool.renderers, "renders events of kind")


def origins_of(tools: Sequence[Tool], settings: Settings) -> HostClaim | None:
    """One claim for every tool's own hosts (``Tool.own_origins``), or None if no tool
    has any. A tool whose hosts would take the portal's own host fails at start."""
    claims: list[tuple[str, HostClaim]] = []
    portal = host_of(urlsplit(settings.public_url).netloc)
    for tool in tools:
        if tool.own_origins is None:
            continue
        try:
            claim = tool.own_origins(settings)
        except ValueError as error:
            raise ToolError(f"tool {tool.name!r} cannot serve its hosts: {error}") from None
        if claim(portal) is not None:
            raise ToolError(
                f"tool {tool.name!r} would serve the portal's own host {portal!r}: give it "
                "hosts of its own in its settings"
            )
        claims.append((tool.name, claim))
    if not claims:
        return None
    if len(claims) == 1:
        return claims[0][1]

    def claimed(host: str) -> ASGIApp | None:
        for _name, claim in claims:
            target = claim(host)
            if target is not None:
                return target
        return None

    return claimed


def settings_sections(tools: Sequence[Tool]) -> dict[str, type[BaseModel]]:
    return {tool.name: tool.settings for tool in tools if tool.settings is not None}


def check_sections(settings: Settings, tools: Sequence[Tool]) -> None:
    """Every settings section belongs to an installed tool and reads well through its
    model, so a typo fails at start with the section's name in the message."""
    installed = {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    unknown = sorted(set(settings.sections) - installed)
    if unknown:
        raise ToolError(
            f"the settings have a section for {', '.join(unknown)}, but no tool of that "
            "name is installed"
        )
    for name, model in settings_sections(tools).items():
        try:
            settings.section(name, model)
        except ValueError as error:
            raise ToolError(f"the [{name}] settings are not right: {error}") from None


async def provide_all(services: Services, tools: Sequence[Tool]) -> None:
    """Each tool's own services, made once at start and found by type afterwards."""
    for tool in tools:
        if tool.provides is None:
            continue
        provided = await tool.provides(services)
        for value in provided if isinstance(provided, tuple) else (provided,):
            services.extensions.add(value)


async def open_gate(
    services: Services,
    auditor: Auditor,
    tools: Sequence[Tool],
    recent_sign_in_seconds: float = 1800,
    heavy_partition: str = "",
) -> VerbGate:
    """The verb gate of a portal with these tools: the core's verbs and theirs in one
    catalog, each tool's own services provided. create_app and the tests' gates are
    built the same way."""
    from app.verbs import CORE_VERBS, VerbGate

    catalog = catalog_of(CORE_VERBS, tools)
    await provide_all(services, tools)
    return VerbGate(services, auditor, catalog, recent_sign_in_seconds, heavy_partition)
