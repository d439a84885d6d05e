"""What a job's page shows, for someone helping (``Tool.page_context``): its state,
reason and exit code, what it asked for and used, its script and the last lines of
its error output, all read as the viewer through the jobs and files verbs. The help
tool takes secrets out of every section before it shows or keeps one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from starlette.requests import Request

from app.tools import ContextSection
from app.verbs import ErrorKind, VerbError
from wrappers.jobs.diagnosis import diagnose
from wrappers.request import verb_gate, viewer

JOB_PAGE = re.compile(r"^/jobs/(\d+(?:_\d+)?)$")
TAIL_BYTES = 4096
TAIL_LINES = 40


async def page_context(request: Request, page: str) -> list[ContextSection]:
    found = JOB_PAGE.match(urlsplit(page).path)
    if found is None:
        return []
    gate, identity = verb_gate(request), viewer(request)
    job = (await gate.call(identity, "jobs.show", job_id=found.group(1))).job
    asked = [f"CPUs: {job.cpus}", f"Nodes: {job.node_count or '?'} ({job.nodes or 'none yet'})"]
    if job.time_limit_minutes is not None:
        asked.append(f"Time limit: {job.time_limit_minutes} minutes")
    used = ""
    measured = None
    try:
        if await gate.allowed(identity, "jobs.history", user=job.user):
            today = datetime.now(UTC).date()
            since = job.submitted_at.date() if job.submitted_at else today - timedelta(days=1)
            history = await gate.call(
                identity,
                "jobs.history",
                user=job.user,
                since=since,
                until=today,
                name=job.name[:64],
            )
            for usage in history.jobs:
                if usage.job.job_id == job.job_id:
                    measured = usage
                    used = (
                        f"Run time: {usage.elapsed_seconds} s\n"
                        f"CPU time: {'?' if usage.cpu_seconds is None else usage.cpu_seconds} s\n"
                        f"Memory asked: {usage.memory_requested_kb or '?'} KB, "
                        f"peak used: {usage.memory_peak_kb or '?'} KB"
                    )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            used = "Accounting did not answer."
    sections = [
        ContextSection(
            "job",
            f"Job {job.job_id}",
            f"Name: {job.name}\nState: {job.state.value}\nReason: {job.reason or '-'}\n"
            f"Exit code: {job.exit_code if job.exit_code is not None else '-'}\n"
            f"Partition: {job.partition}\nAccount: {job.account or '-'}\n"
            f"Working folder: {job.workdir}\nAsked for: "
            + ", ".join(asked)
            + (f"\n{used}" if used else ""),
        )
    ]
    try:
        script = await gate.call(identity, "jobs.script", job_id=job.job_id)
        if script.available:
            sections.append(ContextSection("job.script", "Its script", script.script))
    except VerbError:
        pass  # Slurm let go of it, or her agent is not answering: no section
    errors = ""
    if job.stderr:
        try:
            opened = await gate.call(identity, "files.read", path=job.stderr)
            text, _cut = opened.tail(TAIL_BYTES)
            errors = "\n".join(text.splitlines()[-TAIL_LINES:])
            sections.append(ContextSection("job.errors", "The last lines of its errors", errors))
        except VerbError:
            pass  # no error file (yet), or not hers to read
    # The explanation its page shows (wrappers/jobs/diagnosis.py), so staff see it too.
    explained = diagnose(job, errors, measured)
    if explained is not None:
        sections.insert(
            1, ContextSection("job.diagnosis", "What its page says went wrong", explained.as_text())
        )
    return sections
