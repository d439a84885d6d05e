"""What the Help tool's verbs need besides the gate's own services: its store, its
settings and the announcer of changes (provided once at start, ``Tool.provides``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wrappers.help.live import Announcer
from wrappers.help.settings import HelpSettings
from wrappers.help.store import HelpStore

__all__ = ["Help"]


@dataclass(frozen=True)
class Help:
    store: HelpStore
    settings: HelpSettings
    announcer: Announcer = field(default_factory=Announcer)
