"""What every tool's page needs from a request: who is asking, and the verb gate.

Tools reach managers only through verbs (see DESIGN.md); these two helpers are the
whole of what a page takes from the app besides rendering.
"""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import HTTPConnection

from app.security.sessions import Identity, session_of
from app.verbs import VerbGate
from app.verbs.services import Extensions

T = TypeVar("T")


def viewer(request: HTTPConnection) -> Identity:
    """The signed-in person (the sign-in guard runs before any tool page)."""
    identity = session_of(request.scope).identity
    assert identity is not None, "tool pages are private: the sign-in guard runs first"
    return identity


def verb_gate(request: HTTPConnection) -> VerbGate:
    gate: VerbGate = request.app.state.verbs
    return gate


def own(request: HTTPConnection, kind: type[T]) -> T:
    """The tool's own service of this type (``Tool.provides``), for a page or a route
    that needs it directly (the notebook proxy); verbs ask ``services.own``."""
    extensions: Extensions = request.app.state.extensions
    value = extensions.get(kind)
    if value is None:
        raise RuntimeError(f"no tool provided a {kind.__name__}")
    return value
