"""How a tool renders its live events: one ``Renderer`` per event kind.

The /ws fan-out (app/realtime/fragments.py) hands each event to the renderer of its
kind, once per viewer, so whatever a viewer may not see never leaves the server. A
renderer answers the out-of-band swaps for that viewer, or None when the event is not
for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection
from starlette.templating import Jinja2Templates

from app.security.sessions import Identity

if TYPE_CHECKING:
    from app.verbs.gate import VerbGate
    from managers.scheduler import ClusterSnapshot

Event = dict[str, Any]


@dataclass(frozen=True)
class Viewing:
    """Who is looking, and what their fragments need."""

    templates: Jinja2Templates
    viewer: Identity
    # The viewer's form token, for the forms inside fragments (a cancel button).
    csrf: str = ""
    # The projects whose events the viewer may see, each mapped to whether they may
    # also act on them (from policy, wrappers/jobs/project_access.py).
    projects: Mapping[str, bool] | None = None


@dataclass(frozen=True)
class Renderer:
    render: Callable[[Viewing, Event], str | None]
    # The same HTML for every viewer (a reading of the cluster): one rendering is
    # shared by every socket instead of one per viewer.
    same_for_all: bool = False


# project_access(connection, viewer) -> the projects whose events the viewer may see,
# each mapped to whether they may also act (a tool asks policy about its own kind).
ProjectAccess = Callable[[HTTPConnection, Identity], Awaitable[dict[str, bool]]]

# catch_up(gate, viewer, snapshot, projects) -> the events that bring a freshly
# connected viewer up to date with what changed since their page was rendered.
CatchUp = Callable[["VerbGate", Identity, "ClusterSnapshot", Sequence[str]], Awaitable[list[Event]]]
