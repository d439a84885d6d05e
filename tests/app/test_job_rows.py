from __future__ import annotations

from app.web.job_rows import ArrayRow, job_rows
from managers.scheduler import Job, JobState
from tests.helpers import portal_templates


def job(job_id: str, state: JobState) -> Job:
    return Job(job_id=job_id, name="n", user="alice", state=state, partition="debug")


def test_array_tasks_are_one_row_with_counts() -> None:
    jobs = [
        job("7", JobState.RUNNING),
        job("9_1", JobState.COMPLETED),
        job("9_2", JobState.RUNNING),
        job("9_3", JobState.RUNNING),
        job("9_[4-6]", JobState.PENDING),
        job("8", JobState.PENDING),
    ]
    rows = job_rows(jobs)
    assert [r.job_id if isinstance(r, Job) else r.array_id for r in rows] == ["9", "8", "7"]
    array = rows[0]
    assert isinstance(array, ArrayRow)
    assert dict(array.counts) == {"running": 2, "completed": 1, "pending": 1}
    html = portal_templates().get_template("jobs/_table.html").render(jobs=jobs, oob=False)
    assert 'data-array="9"' in html and "2 running" in html and 'data-job="9_2"' in html
