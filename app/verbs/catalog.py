"""The verb catalog: every operation a tool may ask for, in one table.

A verb names its argument and result models, the Casbin object kind and action it
needs, how to name the object it touches, and who carries it out: the person's own
agent (``op``) or a handler in this process (``local``). Nothing else reaches a
manager, so the catalog is the whole attack surface of the tools.

The catalog is a value the gate owns, built at start from the core's verbs and those
of every enabled tool: a disabled tool's verbs are simply not in it, and two portals
in one process (tests) never share one. It also holds the service principals the
tools declare (a public link's page acts as ``service:public-links``), the only names
a call may be made as besides a signed-in person's.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from app.security.sessions import Identity

if TYPE_CHECKING:
    from app.verbs.services import Services
    from managers.agent.operations import Operation

A = TypeVar("A", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)

# target(args, identity, services) -> the object's value, before canonicalisation, or
# (domain, value) when the object belongs to a project (a job's Slurm account)
Target = Callable[[A, Identity, "Services"], Awaitable[str | tuple[str, str]]]
# local(args, identity, services) -> the result model
Local = Callable[[A, Identity, "Services"], Awaitable[R]]
# after(args, result, identity, services): portal-side bookkeeping once the verb worked
# (remember an e-mail request for a submitted job...). A failure here is logged; it
# does not undo or fail the call.
After = Callable[[A, R, Identity, "Services"], Awaitable[None]]

# Fields the gate itself adds to an agent call (a heavy verb's partition).
GATE_FIELDS = frozenset({"offload_partition"})


@dataclass(frozen=True)
class Verb(Generic[A, R]):
    name: str
    args: type[A]
    result: type[R]
    kind: str
    action: str
    target: Target[A]
    op: str | None = None
    local: Local[A, R] | None = None
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
    after: After[A, R] | None = None

    def __post_init__(self) -> None:
        if (self.op is None) == (self.local is None):
            raise ValueError(f"verb {self.name}: give exactly one of op= or local=")


# A verb of any argument and result models, as the catalog holds them side by side:
# Verb is invariant in both (its handlers take the arguments, its models make them),
# so no narrower common type exists; each verb itself is declared fully typed.
AnyVerb = Verb[Any, Any]

# What a read-only view of someone's portal may do (app/security/view_as.py): look at
# listings, states and details. Never a verb that hands over a file's bytes
# (returns_fd), nor any other action: writing, sharing, submitting, cancelling,
# starting, importing, publishing, answering.
VIEW_ACTIONS = frozenset({"read", "list", "stat"})


def viewable(verb: AnyVerb) -> bool:
    return verb.action in VIEW_ACTIONS and not verb.returns_fd


class NoArgs(BaseModel):
    """For verbs that take nothing."""


class CatalogError(ValueError):
    """A catalog that cannot be built as asked; the message names the verb."""


class Catalog:
    """The verbs one gate knows, by name."""

    def __init__(self, verbs: Iterable[AnyVerb] = ()) -> None:
        self._verbs: dict[str, AnyVerb] = {}
        self._principals: set[str] = set()
        self.add(*verbs)

    def add(self, *verbs: AnyVerb) -> None:
        for verb in verbs:
            if verb.name in self._verbs:
                raise CatalogError(f"verb {verb.name} is registered twice")
            self._verbs[verb.name] = verb

    def get(self, name: str) -> AnyVerb | None:
        return self._verbs.get(name)

    def __getitem__(self, name: str) -> AnyVerb:
        return self._verbs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._verbs

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._verbs))

    def __len__(self) -> int:
        return len(self._verbs)

    @property
    def principals(self) -> frozenset[str]:
        """The service principals the tools declare (``service:public-links``): the
        only names the gate's ``call_as_service`` acts as."""
        return frozenset(self._principals)

    def add_principals(self, *names: str) -> None:
        for name in names:
            if name in self._principals:
                raise CatalogError(f"service principal {name} is declared twice")
            self._principals.add(name)

    def check_operations(self, operations: Mapping[str, Operation]) -> None:
        """Every agent-run verb names an operation that exists and takes exactly the
        verb's fields, so a renamed argument fails at start, not at a user's click."""
        for verb in self._verbs.values():
            if verb.op is None:
                continue
            operation = operations.get(verb.op)
            if operation is None:
                raise CatalogError(
                    f"verb {verb.name} runs agent operation {verb.op!r}, which no tool has"
                )
            problem = _signature_problem(set(verb.args.model_fields), operation.run)
            if problem:
                raise CatalogError(
                    f"verb {verb.name} and agent operation {verb.op} "
                    f"({operation.run.__module__}.{operation.run.__qualname__}) "
                    f"disagree: {problem}"
                )


def _signature_problem(fields: set[str], run: Callable[..., object]) -> str:
    parameters = inspect.signature(run).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return ""
    named = {p.name for p in parameters}
    required = {
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }
    extra = sorted(fields - named)
    missing = sorted(required - fields - GATE_FIELDS)
    words = []
    if extra:
        words.append(f"the operation takes no {', '.join(extra)}")
    if missing:
        words.append(f"the verb gives no {', '.join(missing)}")
    return "; ".join(words)
