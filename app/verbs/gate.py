"""The one gate every verb call passes: validate, canonicalise, authorise, audit,
dispatch. Tools implement nothing of this; they call ``verbs.call(...)``.

A part of a tool that works for a person nobody signed in as (a public link's page,
the notebooks monitor) calls ``call_as_service`` as a service principal its tool
declares: the same pipeline, with policy asked about the service alone and the audit
row naming both, while the work itself is still done as the person, by her agent.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any, Optional

from pydantic import BaseModel, ValidationError, create_model

from app.audit import Auditor
from app.logs import get_logger
from app.policy import PolicyInputError, canonical_object
from app.policy.roles import check_subject
from app.security.sessions import Identity
from app.verbs.catalog import AnyVerb, Catalog, Verb, viewable
from app.verbs.descriptors import OpenFile
from app.verbs.errors import VerbDenied, VerbError, VerbFailed, VerbInvalid, VerbUnavailable
from app.verbs.services import Services
from managers.agent.client import AgentUnavailable
from managers.errors import OperationError

log = get_logger("onestop.verbs")


# How long after a queue-changing verb the cluster is read again (see call()).
POKE_DELAY = 0.05


class VerbGate:
    def __init__(
        self,
        services: Services,
        auditor: Auditor,
        catalog: Catalog,
        recent_sign_in_seconds: float = 1800,
        heavy_partition: str = "",
    ) -> None:
        self.services = services
        self.auditor = auditor
        self.catalog = catalog
        self.recent_sign_in_seconds = recent_sign_in_seconds
        self.heavy_partition = heavy_partition

    async def call(self, identity: Identity, name: str, /, **arguments: object) -> Any:
        """The verb's result model, or a VerbError subclass with a plain message."""
        return await self._call(identity, identity.unix_name, name, arguments)

    async def call_as_service(
        self, service: str, person: str, name: str, /, **arguments: object
    ) -> Any:
        """``name`` done by ``service`` (a service principal a tool declares, such as
        ``service:public-links``) for ``person``, who is not signed in.

        Policy is asked about the service alone: never about her rights, nor anyone's
        role, so the service may do exactly what its own rules say. The object is named
        as for her (her home, her job), the audit row's actor is the service with her
        name in its detail (``on_behalf_of``), and an agent-run verb runs in her agent,
        as her, so the kernel still decides as her. Verbs that need a recent sign-in
        are refused. Raises VerbDenied for a service no enabled tool declares.
        """
        if service not in self.catalog.principals:
            log.warning("verb_unknown_service", service=service, verb=name)
            raise VerbDenied(f"{service!r} is not a service of this portal.", "denied")
        try:
            check_subject(person)
        except PolicyInputError as error:
            raise VerbInvalid(str(error), "invalid") from error
        return await self._call(Identity(0, person, person, ""), service, name, arguments)

    async def _call(
        self, identity: Identity, subject: str, name: str, arguments: dict[str, object]
    ) -> Any:
        """One call; ``subject`` is who policy is asked about and the audit's actor
        (her, or the service acting for her); ``identity`` is whom the work is for."""
        verb = self.catalog.get(name)
        if verb is None:
            raise VerbInvalid(f"There is no operation called {name!r}.", "unknown-verb")
        if identity.viewed_by is not None and not viewable(verb):
            await self._audit(subject, identity, verb, "", "denied", 0.0, reason="read-only view")
            raise VerbDenied(
                f"This is a read-only view of {identity.unix_name}'s portal: "
                "nothing can be changed, shared, started or sent from it.",
                "view-only",
            )
        try:
            args = verb.args.model_validate(arguments)
        except ValidationError as error:
            raise VerbInvalid(_explain(error), "invalid", _field_errors(error)) from error
        try:
            args = _canonical_paths(verb, args)
            located = await verb.target(args, identity, self.services)
            domain, value = located if isinstance(located, tuple) else (verb.domain, located)
            obj = canonical_object(verb.kind, value)
        except PolicyInputError as error:
            await self._audit(subject, identity, verb, "", "invalid", 0.0, reason=str(error))
            raise VerbInvalid(str(error), "invalid-object") from error
        try:
            allowed = await self.services.policy.enforce(subject, domain, obj, verb.action)
        except PolicyInputError as error:
            await self._audit(subject, identity, verb, obj, "invalid", 0.0, reason=str(error))
            raise VerbInvalid(str(error), "invalid-object") from error
        if allowed:
            extra = [(field, "read") for field in verb.reads]  # a copy's source is read
            extra += [(field, verb.action) for field in verb.writes]  # a move's is changed
            for field, action in extra:
                source = canonical_object(verb.kind, getattr(args, field))
                if not await self.services.policy.enforce(subject, domain, source, action):
                    obj, allowed = f"{obj} from {source}", False
        if not allowed:
            await self._audit(subject, identity, verb, obj, "denied", 0.0)
            # Name the object only when the asker named it themselves (a path); never
            # reveal what the gate looked up (a job's owner, say).
            what = f" ({obj.split(':', 1)[-1]})" if verb.kind == "file" else ""
            raise VerbDenied(f"You are not allowed to {verb.action} this{what}.", "denied")
        if verb.recent_sign_in and not self._recent(identity):
            await self._audit(subject, identity, verb, obj, "reauth-needed", 0.0)
            raise VerbDenied(
                "This needs a recent sign-in. Confirm your password with the campus sign-in "
                "service and try again.",
                "reauth",
            )
        started = time.perf_counter()
        try:
            result = await self._dispatch(verb, args, identity)
        except VerbError as error:
            await self._audit(
                subject,
                identity,
                verb,
                obj,
                "failed",
                _ms(started),
                kind=error.detail,
                error_kind=error.kind.value,
                reason=error.message,
            )
            raise
        except Exception as error:  # a bug or an outage below: audited, then plain words
            await self._audit(
                subject, identity, verb, obj, "error", _ms(started), reason=repr(error)
            )
            raise VerbUnavailable(
                "Something went wrong on our side; nothing was changed. Please try again.",
                "internal",
            ) from error
        if verb.after is not None:
            try:
                await verb.after(args, result, identity, self.services)
            except Exception:
                log.exception("verb_after_failed", verb=verb.name, user=identity.unix_name)
        if verb.refreshes_cluster:
            # Every live view sees it within one reading. The reading starts just after
            # this answer has gone out: parsing a busy queue takes the CPU for a few
            # milliseconds, which the person waiting for their job id should not wait.
            self.services.watcher.poke(after=POKE_DELAY)
        # Routine successes are batched; changes to who may do what are written at once.
        await self._audit(
            subject, identity, verb, obj, "ok", _ms(started), urgent=verb.recent_sign_in
        )
        return result

    async def allowed(self, identity: Identity, name: str, /, **arguments: object) -> bool:
        """Whether policy would let this call through (for showing or hiding a button;
        the call itself is still checked). Not audited: nothing happens."""
        verb = self.catalog[name]
        if identity.viewed_by is not None and not viewable(verb):
            return False
        try:
            args = verb.args.model_validate(arguments)
            located = await verb.target(args, identity, self.services)
            domain, value = located if isinstance(located, tuple) else (verb.domain, located)
            obj = canonical_object(verb.kind, value)
            return await self.services.policy.enforce(identity.unix_name, domain, obj, verb.action)
        except (ValidationError, PolicyInputError):
            return False

    async def _dispatch(
        self, verb: Verb[BaseModel, BaseModel], args: BaseModel, identity: Identity
    ) -> BaseModel:
        if verb.local is not None:
            return await verb.local(args, identity, self.services)
        assert verb.op is not None
        arguments = args.model_dump()
        if verb.heavy and self.heavy_partition:
            arguments["offload_partition"] = self.heavy_partition
        try:
            body, fds = await self.services.agents.call_raw(identity.unix_name, verb.op, arguments)
        except AgentUnavailable as error:
            raise VerbUnavailable(error.message, error.kind) from error
        # The agent runs as the person, who could tamper with it: its answer is
        # validated like any other input, in one pass from the raw JSON.
        try:
            reply = _reply_model(verb.result).model_validate_json(body)
        except ValidationError as error:
            for fd in fds:
                os.close(fd)
            raise VerbUnavailable("The helper process answered something unreadable.") from error
        if not reply.ok:
            for fd in fds:
                os.close(fd)
            raise VerbFailed(reply.message, reply.kind)
        if len(fds) != int(verb.returns_fd):
            for fd in fds:
                os.close(fd)
            raise VerbUnavailable("The helper process answered something unreadable.")
        if verb.returns_fd:
            return verb.result.model_validate({"fd": fds[0]})
        assert isinstance(reply.result, BaseModel)
        return reply.result

    async def _audit(
        self,
        subject: str,
        identity: Identity,
        verb: AnyVerb,
        obj: str,
        outcome: str,
        ms: float,
        urgent: bool = True,
        **detail: Any,
    ) -> None:
        # In a view of her portal the one who looks is the actor, never she.
        actor = identity.viewed_by or subject
        if identity.viewed_by is not None:
            detail["view_as"] = True
        if actor != identity.unix_name:  # a service acting for her, or staff looking
            detail["on_behalf_of"] = identity.unix_name
        await self.auditor.record(
            actor=actor,
            action=verb.name,
            object=obj,
            outcome=outcome,
            duration_ms=ms,
            urgent=urgent,
            **detail,
        )

    def _recent(self, identity: Identity) -> bool:
        return (
            identity.auth_time is not None
            and time.time() - identity.auth_time <= self.recent_sign_in_seconds
        )


PATH_FIELDS = ("path", "destination", "root")


def _canonical_paths(verb: AnyVerb, args: BaseModel) -> BaseModel:
    """File verbs act on exactly the path policy was asked about: the canonical one,
    not the spelling that came in (``/home/bob/../alice`` is ``/home/alice``)."""
    if verb.kind != "file":
        return args
    changes = {
        name: canonical_object("file", getattr(args, name)).removeprefix("file:")
        for name in PATH_FIELDS
        if isinstance(getattr(args, name, None), str)
    }
    return args.model_copy(update=changes)


class _Reply(BaseModel):
    ok: bool
    kind: str = "failed"
    message: str = ""
    result: Any = None


@functools.cache
def _reply_model(result: type[BaseModel]) -> type[_Reply]:
    """``{"ok", "kind", "message", "result"}`` with ``result`` typed for one verb."""
    model: type[_Reply] = create_model(
        f"{result.__name__}Reply",
        __base__=_Reply,
        result=(Optional[result], None),  # type: ignore[arg-type]  # noqa: UP045
    )
    return model


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _field_errors(error: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for problem in error.errors():
        where = str(problem.get("loc", ("",))[0])
        message = str(problem.get("msg", "is not valid")).removeprefix("Value error, ")
        fields.setdefault(where, message)
    return fields


def _explain(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "request"
    return f"{where}: {first.get('msg', 'is not valid')}"


async def agent_work(services: Services, user: str, op: str, **arguments: object) -> dict[str, Any]:
    """One operation in ``user``'s agent, for a local verb that does several (a share
    with its bookkeeping, a notebook start). Failures read as the gate's own do: no
    agent is VerbUnavailable, the agent's refusal is VerbFailed in its words, and an
    answer that is not a plain dict (or brings descriptors) is never trusted."""
    try:
        result, fds = await services.agents.call(user, op, arguments)
    except AgentUnavailable as error:
        raise VerbUnavailable(error.message, error.kind) from error
    except OperationError as error:
        raise VerbFailed(error.message, error.kind) from error
    if fds or not isinstance(result, dict):
        for fd in fds:
            os.close(fd)
        raise VerbUnavailable("The helper process answered something unreadable.")
    return result


async def agent_file(services: Services, user: str, op: str, **arguments: object) -> OpenFile:
    """``agent_work`` for an operation that answers one open file (``files.read``), for
    a local verb that reads as her on someone's behalf (a help question's attachment):
    the descriptor her agent opened, so the kernel decided as her."""
    try:
        _, fds = await services.agents.call(user, op, arguments)
    except AgentUnavailable as error:
        raise VerbUnavailable(error.message, error.kind) from error
    except OperationError as error:
        raise VerbFailed(error.message, error.kind) from error
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise VerbUnavailable("The helper process answered something unreadable.")
    return OpenFile(fd=fds[0])
