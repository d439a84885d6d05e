"""The verb catalog: every operation a tool may ask for, in one table.

A verb names its argument and result models, the Casbin object kind and action it
needs, how to name the object it touches, and who carries it out: the person's own
agent (``op``) or a handler in this process (``local``). Nothing else reaches a
manager, so this table is the whole attack surface of the tools.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from app.security.sessions import Identity

# target(args, identity, services) -> the object's value, before canonicalisation, or
# (domain, value) when the object belongs to a project (a job's Slurm account)
Target = Callable[[Any, Identity, Any], Awaitable[str | tuple[str, str]]]
# local(args, identity, services) -> the result model
Local = Callable[[Any, Identity, Any], Awaitable[BaseModel]]
# after(args, result, identity, services): portal-side bookkeeping once the verb worked
# (remember an e-mail request for a submitted job...). A failure here is logged; it
# does not undo or fail the call.
After = Callable[[Any, Any, Identity, Any], Awaitable[None]]


@dataclass(frozen=True)
class Verb:
    name: str
    args: type[BaseModel]
    result: type[BaseModel]
    kind: str
    action: str
    target: Target
    op: str | None = None
    local: Local | None = None
    heavy: bool = False
    domain: str = "*"
    description: str = ""
    returns_fd: bool = field(default=False)
    # Verbs that change who may do what, or end other people's sessions, also need a
    # password typed recently at the provider (the ID token's auth_time).
    recent_sign_in: bool = False
    # Argument fields naming further objects that are only read (a copy's source):
    # policy must allow "read" on each of them too.
    reads: tuple[str, ...] = ()
    # Argument fields naming further objects that are changed too (a move's source):
    # policy must allow the verb's own action on each of them.
    writes: tuple[str, ...] = ()
    # Verbs that change the queue: the cluster is read again before the call returns,
    # so the next page (and every live view) already shows the change.
    refreshes_cluster: bool = False
    after: After | None = None

    def __post_init__(self) -> None:
        if (self.op is None) == (self.local is None):
            raise ValueError(f"verb {self.name}: give exactly one of op= or local=")


class NoArgs(BaseModel):
    """For verbs that take nothing."""


CATALOG: dict[str, Verb] = {}


def register(*verbs: Verb) -> None:
    for verb in verbs:
        if verb.name in CATALOG:
            raise ValueError(f"verb {verb.name} is registered twice")
        CATALOG[verb.name] = verb
