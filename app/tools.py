"""The plugin interface: how a tool (jobs, files, notebooks, yours) joins the portal.

A tool is a ``Tool`` value that a Python package names under the entry point group
``onestop.wrappers``. At start the portal loads every such entry point, checks what
the tool asks for, and then mounts its pages, adds its templates, its navigation
link and its dashboard card, registers the verbs it brings, lets its pages follow
things over ``/ws``, and gives the site the default policy rules it never had.

What a tool may not do is decided here, before anything is mounted: its policy rules
may only speak of the object kinds it declares, so installing a tool never widens
what anyone may do with files, jobs or anything else that belongs to another tool;
and every verb it says it uses must exist, so a tool written for another release
fails at start with its name in the message instead of at a user's first click.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from app.logs import get_logger
from app.policy.defaults import parse_rules
from app.verbs.catalog import CATALOG, Verb, register

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from app.policy import PolicyEnforcer
    from app.realtime.ws import Follower

ENTRY_POINT_GROUP = "onestop.wrappers"

log = get_logger("onestop.tools")

# card_context(request) -> what the tool's card template needs besides the
# dashboard's own context (identity, projects, snapshot, jobs).
CardContext = Callable[[Request], Awaitable[dict[str, Any]]]
# lifespan(app): background work that lives as long as the portal (a monitor).
Lifespan = Callable[["Starlette"], contextlib.AbstractAsyncContextManager[None]]


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
    # A folder of Jinja templates, searched after the portal's own.
    templates: Path | None = None
    card: Card | None = None
    # Verbs this tool brings: registered in the catalog when it loads.
    verbs: Sequence[Verb] = ()
    # Verbs of the portal or of other tools that this tool calls.
    uses: Sequence[str] = ()
    # Casbin object kinds this tool owns ("notebook" for notebook:alice/4f2a...).
    kinds: Sequence[str] = ()
    # Default rules, policy.csv lines ("p, user, *, greeting:{sub}/**, read"), added
    # at the first start that brings them and not again once an admin removed one
    # (app/policy/seeding.py); they may only name the kinds above.
    policy: Sequence[str] = ()
    # Things its pages may follow over /ws (see app/realtime/ws.py).
    followers: Mapping[str, Follower] = field(default_factory=dict)
    lifespan: Lifespan | None = None
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


def load_tools(tools: Sequence[Tool]) -> list[Tool]:
    """Check the tools together, register their verbs, and order them."""
    seen: set[str] = set()
    kinds: dict[str, str] = {}
    for tool in tools:
        if tool.name in seen:
            raise ToolError(f"two tools are called {tool.name!r}")
        seen.add(tool.name)
        for kind in tool.kinds:
            if kind in kinds:
                raise ToolError(
                    f"tool {tool.name!r} declares the object kind {kind!r}, "
                    f"which tool {kinds[kind]!r} already owns"
                )
            kinds[kind] = tool.name
        _check_rules(tool)
    for tool in tools:
        for verb in tool.verbs:
            if not verb.name.startswith(f"{tool.name}."):
                raise ToolError(
                    f"tool {tool.name!r} brings verb {verb.name!r}: its name must start "
                    f"with {tool.name}."
                )
            if CATALOG.get(verb.name) is not verb:
                register(verb)
    for tool in tools:
        missing = [name for name in tool.uses if name not in CATALOG]
        if missing:
            raise ToolError(
                f"tool {tool.name!r} uses verbs this portal does not have: {', '.join(missing)}"
            )
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
    for _role, _domain, obj, _action in tool.rules():
        kind, colon, _ = obj.partition(":")
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


def followers_of(tools: Sequence[Tool]) -> dict[str, Follower]:
    merged: dict[str, Follower] = {}
    for tool in tools:
        for key, follower in tool.followers.items():
            if key in merged:
                raise ToolError(f"tool {tool.name!r} follows {key!r}, which another tool does")
            merged[key] = follower
    return merged


def template_folders(tools: Sequence[Tool]) -> list[Path]:
    return [tool.templates for tool in tools if tool.templates is not None]
