"""Jobs as rows of a list: an array's tasks become one row with a count per state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from managers.scheduler.models import Job


@dataclass
class ArrayRow:
    """All tasks of one array job (``12_1``, ``12_2``, ``12_[3-8]`` ...)."""

    array_id: str
    name: str
    partition: str
    tasks: list[Job] = field(default_factory=list)

    @property
    def counts(self) -> list[tuple[str, int]]:
        """Tasks per state, most common first (a pending range counts as one row)."""
        return Counter(task.state.value for task in self.tasks).most_common()

    @property
    def active(self) -> bool:
        """Whether any task still waits or runs (so cancelling the array means something)."""
        return any(task.state.is_active for task in self.tasks)


def _newest_first(job: Job) -> tuple[int, str]:
    base = job.job_id.partition("_")[0]
    return (-int(base) if base.isdigit() else 0, job.job_id)


def job_rows(jobs: list[Job]) -> list[Job | ArrayRow]:
    """Newest first; plain jobs as they are, array tasks gathered under their array."""
    rows: list[Job | ArrayRow] = []
    arrays: dict[str, ArrayRow] = {}
    for job in sorted(jobs, key=_newest_first):
        base, underscore, _ = job.job_id.partition("_")
        if not underscore:
            rows.append(job)
            continue
        if base not in arrays:
            arrays[base] = ArrayRow(base, job.name, job.partition)
            rows.append(arrays[base])
        arrays[base].tasks.append(job)
    return rows
