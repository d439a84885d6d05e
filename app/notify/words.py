"""How a job's end is told: a short title for the bell and the list, a sentence for
the page and the e-mail. Plain words, never Slurm's codes."""

from __future__ import annotations

from collections import Counter

from app.web.words import JobNames, duration_words, job_words
from managers.scheduler import Job, JobState


def outcome_words(job: Job) -> str:
    """What happened to one job: "completed", "failed with exit code 3"..."""
    state = job.state
    if state is JobState.COMPLETED:
        return "completed" if not job.exit_code else f"ended with exit code {job.exit_code}"
    if state is JobState.FAILED:
        return f"failed with exit code {job.exit_code}" if job.exit_code else "failed"
    if state is JobState.TIMEOUT:
        limit = job.time_limit_minutes
        return "ran out of time" + (f" (its limit was {duration_words(limit)})" if limit else "")
    if state is JobState.CANCELLED:
        return "was cancelled"
    if state is JobState.NODE_FAIL:
        return "stopped because a computer it ran on failed"
    if state is JobState.UNKNOWN:
        return "ended, but the portal could not learn how"
    return job_words(state)


def _label(job_id: str, name: str, array: bool) -> str:
    what = "job array" if array else "job"
    return f"{what} {job_id}" + (f" '{name}'" if name else "")


def _first_up(text: str) -> str:
    """Only the first letter: ``str.capitalize`` would lower-case the job's own name."""
    return text[:1].upper() + text[1:]


def ending_words(
    job_id: str, name: str, jobs: list[Job], names: JobNames | None = None
) -> tuple[str, str]:
    """(title, sentence) for the end of job ``job_id``; ``jobs`` are its final
    records (one, or one per task of an array); ``names`` words a tool's own job."""
    array = len(jobs) > 1 or any("_" in job.job_id for job in jobs)
    label = _label(job_id, (names or JobNames()).words(name), array)
    if not jobs:
        outcome = "ended, but the portal could not learn how"
        return f"{_first_up(label)} ended", f"Your {label} {outcome}."
    if not array:
        outcome = outcome_words(jobs[0])
        title_outcome = "finished" if outcome == "completed" else outcome
        return f"{_first_up(label)} {title_outcome}", f"Your {label} finished: {outcome}."
    counts = Counter(job_words(job.state) for job in jobs)
    summary = ", ".join(f"{count} {word}" for word, count in sorted(counts.items()))
    tasks = f"{len(jobs)} task{'s' if len(jobs) != 1 else ''}"
    return (
        f"{_first_up(label)} finished ({summary})",
        f"Your {label} finished: {tasks}, {summary}.",
    )
