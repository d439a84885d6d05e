"""Job verbs: submitted and cancelled as the person, through their agent, so
Slurm's own munge credential says who did it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from app.security.sessions import Identity
from app.verbs.catalog import Verb, register
from managers.scheduler import SchedulerError


class SubmitArgs(BaseModel):
    script: str = Field(min_length=1, max_length=1024 * 1024)
    partition: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")
    name: str = Field(default="", max_length=128, pattern=r"^[^\n\r\x00;$`]*$")
    workdir: str = Field(default="", max_length=4096)

    @field_validator("script")
    @classmethod
    def _starts_with_interpreter(cls, script: str) -> str:
        if not script.startswith("#!"):
            raise ValueError("a job script starts with a line like #!/bin/bash")
        return script


class JobArgs(BaseModel):
    job_id: str = Field(pattern=r"^[0-9]+(_[0-9]+)?$")


class Submitted(BaseModel):
    job_id: str


async def new_job(args: Any, identity: Identity, services: Any) -> str:
    return f"{identity.unix_name}/new"


async def existing_job(args: Any, identity: Identity, services: Any) -> tuple[str, str]:
    """Name the job by its real owner, in its project's domain (its Slurm account),
    so policy decides on facts, not on the asker."""
    try:
        found = await services.scheduler.job_ownership(args.job_id)
    except SchedulerError:
        found = None
    if found is None:
        # Capitals cannot start a Unix name here, so no person matches an unknown owner.
        return "*", f"Nobody-Known/{args.job_id}"
    owner, account = found
    return account or "*", f"{owner}/{args.job_id}"


register(
    Verb("jobs.submit", SubmitArgs, Submitted, "job", "submit", new_job, op="jobs.submit"),
    Verb("jobs.cancel", JobArgs, Submitted, "job", "cancel", existing_job, op="jobs.cancel"),
)
