"""The jobs tool's live events: a person's jobs and her projects' jobs, rendered for
each viewer (app/realtime/render.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.realtime.render import Event, Renderer, Viewing
from app.security.sessions import Identity
from app.verbs.gate import VerbGate
from managers.cluster_watcher import jobs_event, project_jobs_event
from managers.scheduler import ClusterSnapshot
from managers.scheduler.models import Job


def render_jobs(viewing: Viewing, event: Event) -> str | None:
    """One event updates every place a job is shown; htmx swaps the ones the viewer's
    page has (dashboard card, jobs list, a job's own page). Only on her own channel."""
    if event.get("user") != viewing.viewer.unix_name:
        return None
    templates, csrf, changed = viewing.templates, viewing.csrf, event.get("changed")
    jobs = [Job.model_validate(job) for job in event.get("jobs", [])]
    active = [job for job in jobs if job.state.is_active]
    touched = [job for job in jobs if changed is None or job.job_id in changed]
    return "".join(
        [
            templates.get_template("partials/my_jobs.html").render(jobs=active, oob=True),
            templates.get_template("jobs/_table.html").render(jobs=jobs, oob=True, csrf=csrf),
            *(
                templates.get_template(name).render(job=job, oob=True, csrf=csrf)
                for job in touched
                for name in ("jobs/_status.html", "jobs/_details.html")
            ),
        ]
    )


def render_project_jobs(viewing: Viewing, event: Event) -> str | None:
    """Others' jobs in a project the viewer may watch (her own arrive on her channel)."""
    project = str(event.get("project", ""))
    projects = viewing.projects
    if projects is None or project not in projects:
        return None
    may_act, changed = projects[project], event.get("changed")
    templates, csrf = viewing.templates, viewing.csrf
    others = [
        job
        for job in (Job.model_validate(job) for job in event.get("jobs", []))
        if job.user != viewing.viewer.unix_name
    ]
    return "".join(
        [
            templates.get_template("jobs/_project_table.html").render(
                project=project, jobs=others, oob=True
            ),
            *(
                templates.get_template(name).render(job=job, oob=True, csrf=csrf, may_act=may_act)
                for job in others
                if changed is None or job.job_id in changed
                for name in ("jobs/_status.html", "jobs/_details.html")
            ),
        ]
    )


async def catch_up(
    gate: VerbGate, viewer: Identity, snapshot: ClusterSnapshot, projects: Sequence[str]
) -> list[Event]:
    """Her jobs, and each watched project's, as they are now."""
    events = [jobs_event(snapshot, viewer.unix_name)]
    for project in projects:
        view = await gate.call(viewer, "jobs.project", project=project)
        whole = snapshot.model_copy(update={"jobs": view.jobs})
        events.append(project_jobs_event(whole, view.project))
    return events


RENDERERS = {
    "jobs": Renderer(render_jobs),
    "project_jobs": Renderer(render_project_jobs),
}
