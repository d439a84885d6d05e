"""Job verbs: submitted and cancelled as the person, through their agent, so
Slurm's own munge credential says who did it.

A submission is checked twice: field by field here (nothing can end a directive or
start a command), then against the cluster as it is now (the partition exists and
is open, the time fits its limit), so mistakes are explained next to the field
before anything reaches Slurm.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from app.security.sessions import Identity
from app.verbs.catalog import Verb
from app.verbs.errors import VerbFailed, VerbInvalid, VerbUnavailable
from managers.scheduler import Job, PartitionState, SchedulerError

MAX_SCRIPT = 1024 * 1024
FORBIDDEN_IN_NAME = re.compile(r"[\n\r\x00;$`#\\\"'<>|&]")


class SubmitArgs(BaseModel):
    script: str = Field(min_length=1, max_length=MAX_SCRIPT)
    name: str = Field(default="", max_length=64)
    partition: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")
    nodes: int = Field(default=1, ge=1, le=64)
    ntasks: int = Field(default=1, ge=1, le=1024)
    cpus_per_task: int = Field(default=1, ge=1, le=256)
    memory_mb: int = Field(default=0, ge=0, le=4 * 1024 * 1024)
    time_minutes: int = Field(default=10, ge=1, le=365 * 24 * 60)
    workdir: str = Field(default="", max_length=4096)
    # The portal itself e-mails this address when the job ends (a JobWatch, recorded
    # after the submission worked); it never reaches the agent or Slurm, so nobody
    # gets a second, terser message from Slurm's MailProg.
    mail_on_end: str = Field(
        default="", max_length=254, pattern=r"^([^@\s]+@[^@\s]+)?$", exclude=True
    )
    array: str = Field(default="", max_length=64, pattern=r"^([0-9]+([-:,][0-9]+)*(%[0-9]+)?)?$")
    token: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if FORBIDDEN_IN_NAME.search(name):
            raise ValueError("a job name may not contain line breaks, quotes or ; $ ` # & | < >")
        return name.strip()

    @field_validator("script")
    @classmethod
    def _no_directives(cls, script: str) -> str:
        for line in script.split("\n")[1:]:
            if line.lstrip().upper().startswith("#SBATCH"):
                raise ValueError("use the form's fields instead of #SBATCH lines")
        if "\x00" in script:
            raise ValueError("the script contains a NUL character")
        return script


class JobArgs(BaseModel):
    job_id: str = Field(pattern=r"^[0-9]+(_[0-9]+)?$")


class JobView(BaseModel):
    job: Job


class ProjectArgs(BaseModel):
    project: str = Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")


class ProjectJobs(BaseModel):
    project: str
    jobs: list[Job]


# The owner part of the object that stands for "all of a project's jobs": capitals
# cannot start a Unix name here, so only rules for any owner (``job:**``) match it.
EVERY_OWNER = "Every-Owner"


class Submitted(BaseModel):
    job_id: str
    reused: bool = False


def cluster_problems(args: SubmitArgs, snapshot: Any) -> dict[str, str]:
    """What the cluster, as last read, says is wrong with this request."""
    if snapshot is None:
        return {}
    partitions = {p.name: p for p in snapshot.partitions}
    chosen = (
        partitions.get(args.partition)
        if args.partition
        else next((p for p in snapshot.partitions if p.is_default), None)
    )
    problems: dict[str, str] = {}
    if args.partition and chosen is None:
        known = ", ".join(sorted(partitions)) or "none"
        problems["partition"] = f"There is no partition {args.partition!r}. Choose one of: {known}."
        return problems
    if chosen is None:
        return problems
    if chosen.state is not PartitionState.UP:
        problems["partition"] = f"The partition {chosen.name} is not taking jobs right now."
    limit = chosen.max_time_minutes
    if limit is not None and args.time_minutes > limit:
        problems["time_minutes"] = (
            f"The partition {chosen.name} allows at most {limit} minutes per job."
        )
    if args.nodes > len(chosen.nodes):
        problems["nodes"] = f"The partition {chosen.name} has only {len(chosen.nodes)} nodes."
    if chosen.total_cpus and args.ntasks * args.cpus_per_task > chosen.total_cpus:
        problems["cpus_per_task"] = (
            f"That asks for {args.ntasks * args.cpus_per_task} CPUs; the partition "
            f"{chosen.name} has {chosen.total_cpus}."
        )
    return problems


async def new_job(args: Any, identity: Identity, services: Any) -> str:
    problems = cluster_problems(args, services.watcher.latest)
    if problems:
        raise VerbInvalid("Please check the highlighted fields.", "invalid", problems)
    return f"{identity.unix_name}/new"


async def existing_job(args: Any, identity: Identity, services: Any) -> tuple[str, str]:
    """Name the job by its real owner, in its project's domain (its Slurm account),
    so policy decides on facts, not on the asker.

    The watcher's last reading answers for queued and recent jobs, so an open job page
    costs Slurm nothing; only older jobs are looked up (in accounting). When Slurm does
    not answer, that is VerbUnavailable: an outage never reads as "nobody's job"."""
    found = _owner_in_queue(services.watcher.latest, args.job_id)
    if found is None:
        try:
            found = await services.scheduler.job_ownership(args.job_id)
        except SchedulerError as error:
            raise VerbUnavailable(error.message, "scheduler") from error
    if found is None:
        # Capitals cannot start a Unix name here, so no person matches an unknown owner.
        return "*", f"Nobody-Known/{args.job_id}"
    owner, account = found
    return account or "*", f"{owner}/{args.job_id}"


def _owner_in_queue(snapshot: Any, job_id: str) -> tuple[str, str] | None:
    """(owner, account) from the last reading: the job, or for an array's own number
    any of its tasks (they share both)."""
    if snapshot is None:
        return None
    task_prefix = f"{job_id}_"
    for job in snapshot.jobs:
        if job.job_id == job_id or job.job_id.startswith(task_prefix):
            return job.user, job.account
    return None


async def show_job(args: Any, identity: Identity, services: Any) -> JobView:
    """The job as the queue shows it now, or as accounting remembers it."""
    snapshot = services.watcher.latest
    if snapshot is not None:
        for job in snapshot.jobs:
            if job.job_id == args.job_id:
                return JobView(job=job)
    try:
        job = await services.scheduler.job_record(args.job_id)
    except SchedulerError as error:
        raise VerbUnavailable(error.message, "scheduler") from error
    if job is None:
        raise VerbFailed("There is no such job.", "ENOENT")
    return JobView(job=job)


async def all_project_jobs(args: Any, identity: Identity, services: Any) -> tuple[str, str]:
    return args.project, f"{EVERY_OWNER}/all"


async def project_jobs(args: Any, identity: Identity, services: Any) -> ProjectJobs:
    """The project's jobs in the queue (a job's project is its Slurm account)."""
    snapshot = services.watcher.latest
    jobs = [job for job in snapshot.jobs if job.account == args.project] if snapshot else []
    return ProjectJobs(project=args.project, jobs=jobs)


class JobScript(BaseModel):
    """A job's batch script as Slurm keeps it; ``available`` is False once Slurm has
    let go of it (a few minutes after the job ended), and ``script`` is then empty."""

    job_id: str
    available: bool
    script: str = Field(default="", max_length=4 * MAX_SCRIPT)


async def watch_for_mail(args: Any, result: Any, identity: Identity, services: Any) -> None:
    """After a submission with "e-mail me when it ends": remember the request."""
    if args.mail_on_end and services.notifier is not None:
        await services.notifier.watch(result.job_id, identity.unix_name, args.mail_on_end)


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb("jobs.show", JobArgs, JobView, "job", "read", existing_job, local=show_job),
    # Read as the person by their agent (scontrol write batch_script), so Slurm itself
    # also checks that it is theirs.
    Verb("jobs.script", JobArgs, JobScript, "job", "read", existing_job, op="jobs.script"),
    Verb(
        "jobs.project",
        ProjectArgs,
        ProjectJobs,
        "job",
        "read",
        all_project_jobs,
        local=project_jobs,
    ),
    Verb(
        "jobs.submit",
        SubmitArgs,
        Submitted,
        "job",
        "submit",
        new_job,
        op="jobs.submit",
        refreshes_cluster=True,
        after=watch_for_mail,
    ),
    Verb(
        "jobs.cancel",
        JobArgs,
        Submitted,
        "job",
        "cancel",
        existing_job,
        op="jobs.cancel",
        refreshes_cluster=True,
    ),
    # Holding and releasing count as cancelling in the policy: whoever may stop a job
    # may also pause it.
    *(
        Verb(
            f"jobs.{action}",
            JobArgs,
            Submitted,
            "job",
            "cancel",
            existing_job,
            op=f"jobs.{action}",
            refreshes_cluster=True,
        )
        for action in ("hold", "release")
    ),
)
