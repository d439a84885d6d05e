"""Notebook sessions on the agent's side: the session folder, the batch script, sbatch.

``operations`` runs inside the person's agent (as her); ``launch`` builds the bash
script that starts Jupyter inside the job.
"""

JOB_PREFIX = "onestop-notebook-"
"""A session's Slurm job is called this plus the session id: the monitor finds a job
by it, and job lists show such a job as a notebook session."""


def job_name(session_id: str) -> str:
    return f"{JOB_PREFIX}{session_id}"


def is_notebook_job(name: str) -> bool:
    return name.startswith(JOB_PREFIX)


def session_of_job(name: str) -> str:
    """The session id a job's name carries, or "" for any other job."""
    rest = name.removeprefix(JOB_PREFIX)
    if rest == name or len(rest) != 16 or rest.strip("0123456789abcdef"):
        return ""
    return rest
