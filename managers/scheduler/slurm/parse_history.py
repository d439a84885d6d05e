"""``sacct --parsable2`` lines (HISTORY_FIELDS) into JobUsage: one per job, its steps
folded in.

What Slurm 22.05 really reports (checked on the demo cluster, jobacct_gather/linux):

- The allocation line (``12``, ``12_3``) carries the request: Timelimit, ReqMem (the
  whole job's memory: ``--mem-per-cpu=500`` on 2 CPUs reads ``1000M``; ``--mem=1G``
  reads ``1G``; no ``n``/``c`` suffix any more, older versions had one) and a
  TotalCPU that is already the sum of its steps.
- MaxRSS is empty on the allocation line and only set on steps (``12.batch``,
  ``12.0``, ``12.extern``), and only once the sampler has run (every
  JobAcctGatherFrequency seconds): a job of a few seconds has no peak at all.
- MaxRSS is the step's largest task; NTasks says how many tasks the step had.
- Times: ElapsedRaw is seconds; TimelimitRaw minutes; TotalCPU ``MM:SS.mmm``,
  ``HH:MM:SS`` or ``D-HH:MM:SS``.
"""

from __future__ import annotations

import re

from managers.scheduler.models import Job, JobUsage
from managers.scheduler.slurm.parse import _when
from managers.scheduler.states import job_state

HISTORY_FIELDS = (
    "JobID",
    "JobName",
    "User",
    "Account",
    "Partition",
    "State",
    "ExitCode",
    "Submit",
    "Start",
    "End",
    "ElapsedRaw",
    "TimelimitRaw",
    "AllocCPUS",
    "TotalCPU",
    "ReqMem",
    "MaxRSS",
    "NTasks",
    "NNodes",
    "NodeList",
)
_NAME = HISTORY_FIELDS.index("JobName")
_CLOCK = re.compile(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGTP]?)([nc]?)", re.IGNORECASE)
_KB_PER_UNIT = {"": 1 / 1024, "K": 1, "M": 1024, "G": 1024**2, "T": 1024**3, "P": 1024**4}


def clock_seconds(text: str) -> float | None:
    """TotalCPU-style durations: ``00:04.986``, ``01:02:03``, ``1-02:03:04``."""
    match = _CLOCK.fullmatch(text.strip())
    if not match:
        return None
    days, hours, mins, secs = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(mins) * 60 + float(secs)


def size_kb(text: str, cpus: int = 1, nodes: int = 1) -> int | None:
    """``163292K``, ``1000M``, ``1G`` as kibibytes (Slurm's K is 1024 bytes). A plain
    number is bytes. The per-node ``n`` and per-CPU ``c`` suffixes of Slurm before
    22.05 are turned into the whole job's amount."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        return None
    amount, unit, per = match.groups()
    kb = float(amount) * _KB_PER_UNIT[unit.upper()]
    kb *= {"n": nodes, "c": cpus}.get(per.lower(), 1)
    return round(kb)


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _fields(line: str) -> dict[str, str] | None:
    """One line as a field map. A job name may itself contain ``|`` (sbatch allows
    it; the portal does not): the surplus is given back to the name, the only free
    text among these fields."""
    values = line.split("|")
    surplus = len(values) - len(HISTORY_FIELDS)
    if surplus < 0:
        return None
    if surplus:
        name = "|".join(values[_NAME : _NAME + surplus + 1])
        values = [*values[:_NAME], name, *values[_NAME + surplus + 1 :]]
    return dict(zip(HISTORY_FIELDS, values, strict=True))


def _allocation(row: dict[str, str]) -> JobUsage:
    state_words = row["State"].split()
    code = row["ExitCode"].split(":")[0]
    cpus = _int(row["AllocCPUS"]) or 0
    nodes = _int(row["NNodes"]) or 0
    job = Job(
        job_id=row["JobID"],
        name=row["JobName"],
        user=row["User"],
        account=row["Account"],
        partition=row["Partition"],
        state=job_state(state_words[:1]),
        reason=" ".join(state_words[1:]),  # "CANCELLED by 2001"
        nodes="" if row["NodeList"] in ("None assigned", "") else row["NodeList"],
        node_count=nodes,
        cpus=cpus,
        submitted_at=_when(row["Submit"]),
        started_at=_when(row["Start"]),
        ended_at=_when(row["End"]),
        time_limit_minutes=_int(row["TimelimitRaw"]),  # UNLIMITED, Partition_Limit: None
        exit_code=int(code) if code.isdigit() else None,
    )
    return JobUsage(
        job=job,
        elapsed_seconds=_int(row["ElapsedRaw"]) or 0,
        cpu_seconds=clock_seconds(row["TotalCPU"]),
        memory_requested_kb=size_kb(row["ReqMem"], cpus or 1, nodes or 1) or None,
    )


def history(output: str) -> list[JobUsage]:
    """Every job in the output, in the order sacct listed them, each with the peak
    memory of its busiest step. Lines of an unknown shape are skipped; a step whose
    job line is missing (not expected from sacct) is ignored."""
    jobs: dict[str, JobUsage] = {}
    peaks: dict[str, int] = {}
    for line in output.splitlines():
        row = _fields(line)
        if row is None or not row["JobID"]:
            continue
        job_id, dot, _step = row["JobID"].partition(".")
        if not dot:
            jobs[job_id] = _allocation(row)
            continue
        rss = size_kb(row["MaxRSS"]) if row["MaxRSS"] else None
        if rss is not None:
            tasks = _int(row["NTasks"]) or 1
            peaks[job_id] = max(peaks.get(job_id, 0), rss * tasks)
    for job_id, peak in peaks.items():
        if job_id in jobs:
            jobs[job_id].memory_peak_kb = peak
    return list(jobs.values())
