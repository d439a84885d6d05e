"""What verbs may use: the core's shared services, handed in once, typed.

A tool's own service (the job composer's template store, the notebook sessions) is
not a field here: the tool provides it at start (``Tool.provides``) and its verbs ask
for it by type with ``services.own(TemplateStore)``, so the core names no tool and a
verb of a disabled tool, which is not in the catalog anyway, finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.notify import Notifier
from app.policy import PolicyEnforcer
from app.security.sessions import SessionStore
from app.settings import Settings
from app.verbs.errors import VerbUnavailable
from managers.agent.client import AgentClient
from managers.agent.remote import RemoteAgentClient
from managers.cluster_watcher import ClusterWatcher
from managers.scheduler import SchedulerAdapter

T = TypeVar("T")


class Extensions:
    """The tools' own services, one per type."""

    def __init__(self) -> None:
        self._items: dict[type, object] = {}

    def add(self, value: object) -> None:
        kind = type(value)
        if kind in self._items:
            raise ValueError(f"two tools provide a {kind.__name__}")
        self._items[kind] = value

    def get(self, kind: type[T]) -> T | None:
        value = self._items.get(kind)
        return value if isinstance(value, kind) else None


@dataclass
class Services:
    policy: PolicyEnforcer
    agents: AgentClient | RemoteAgentClient
    scheduler: SchedulerAdapter
    watcher: ClusterWatcher
    sessions: SessionStore
    database: async_sessionmaker[AsyncSession]
    settings: Settings
    # Job-end notifications and e-mail requests (the portal's own records, app/notify):
    # shared by every tool that tells a person something happened.
    notifier: Notifier | None = None
    extensions: Extensions = field(default_factory=Extensions)

    def own(self, kind: type[T]) -> T:
        """The tool's own service of this type; VerbUnavailable when none was provided
        (a portal or test built without it), in words a person can read."""
        value = self.extensions.get(kind)
        if value is None:
            raise VerbUnavailable("This part of the portal is not set up here.", "unavailable")
        return value
