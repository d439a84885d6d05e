"""jobs.history: a person's past jobs from accounting, with what each used.

The object is ``job:<owner>/history``, so the rules that let someone read a
person's jobs (``job:{sub}/**`` for everyone's own, ``job:**`` for staff) also decide
whose history they may read; no new rule is needed. It runs in the portal's process,
like jobs.show: reading accounting changes nothing, and the gate has decided first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from app.security.sessions import Identity
from app.verbs.catalog import Verb
from app.verbs.errors import VerbUnavailable
from managers.scheduler import JobState, JobUsage, SchedulerError

UNIX_NAME = r"^([a-z_][a-z0-9_-]{0,31})?$"
MAX_DAYS = 366
DEFAULT_DAYS = 7


def _default_since() -> date:
    return datetime.now(UTC).date() - timedelta(days=DEFAULT_DAYS - 1)


def _today() -> date:
    return datetime.now(UTC).date()


class HistoryArgs(BaseModel):
    """Dates are whole days, both included; empty ``user`` means the asker."""

    since: date = Field(default_factory=_default_since)
    until: date = Field(default_factory=_today)
    states: list[JobState] = Field(default=[], max_length=len(JobState))
    name: str = Field(default="", max_length=64)
    user: str = Field(default="", pattern=UNIX_NAME)
    limit: int = Field(default=200, ge=1, le=1000)

    @field_validator("until")
    @classmethod
    def _in_order(cls, until: date, info: ValidationInfo) -> date:
        since = info.data.get("since")
        if isinstance(since, date):
            if until < since:
                raise ValueError("the end date is before the start date")
            if (until - since).days >= MAX_DAYS:
                raise ValueError(f"choose at most {MAX_DAYS} days at a time")
        return until


class History(BaseModel):
    user: str
    jobs: list[JobUsage]
    truncated: bool = False  # more jobs matched than ``limit``: the newest are kept


def _whose(args: Any, identity: Identity) -> str:
    return str(args.user or identity.unix_name)


async def history_target(args: Any, identity: Identity, services: Any) -> str:
    return f"{_whose(args, identity)}/history"


async def job_history(args: Any, identity: Identity, services: Any) -> History:
    """Jobs waiting or running at any time between the start of ``since`` and the end
    of ``until`` (days in UTC, as the job pages show times), newest first."""
    user = _whose(args, identity)
    start = datetime.combine(args.since, time.min, UTC)
    end = datetime.combine(args.until, time.max.replace(microsecond=0), UTC)
    try:
        jobs = await services.scheduler.history(
            user, start, end, states=args.states, name=args.name.strip()
        )
    except SchedulerError as error:
        raise VerbUnavailable(error.message, "scheduler") from error
    return History(user=user, jobs=jobs[: args.limit], truncated=len(jobs) > args.limit)


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb(
        "jobs.history",
        HistoryArgs,
        History,
        "job",
        "read",
        history_target,
        local=job_history,
        description="A person's past jobs, with the time, CPUs and memory each used.",
    ),
)
