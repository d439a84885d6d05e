"""Turns a bus event into the HTML fragment one particular viewer may see.

Rendering happens per subscriber, so whatever a viewer may not see never leaves
the server: a user's job event is only ever rendered on that user's channel.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.templating import Jinja2Templates

from app.security.sessions import Identity
from app.verbs.notebooks import SessionView
from managers.cluster_watcher import cluster_event, jobs_event, project_jobs_event
from managers.scheduler import ClusterSnapshot
from managers.scheduler.models import ACTIVE_JOB_STATES, Job


def render_event(
    templates: Jinja2Templates,
    viewer: Identity,
    event: dict[str, Any],
    csrf: str = "",
    projects: Mapping[str, bool] | None = None,
) -> str | None:
    """The out-of-band swap for ``event``, or None when it is not for this viewer.

    ``csrf`` is the viewer's token, for the forms inside fragments (a cancel button).
    ``projects`` maps the projects whose jobs the viewer may see to whether they may
    also cancel them (from policy, see app/web/project_jobs.py).
    """
    kind = event.get("kind")
    if kind == "cluster":
        snapshot = ClusterSnapshot.model_validate(event["snapshot"])
        template = templates.get_template("partials/cluster.html")
        return template.render(snapshot=snapshot, oob=True)
    changed = event.get("changed")
    if kind == "jobs" and event.get("user") == viewer.unix_name:
        jobs = [Job.model_validate(job) for job in event.get("jobs", [])]
        active = [job for job in jobs if job.state in ACTIVE_JOB_STATES]
        touched = [job for job in jobs if changed is None or job.job_id in changed]
        # One event updates every place a job is shown; htmx swaps the ones the
        # viewer's page has (dashboard card, jobs list, a job's own page).
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
    if kind == "notebooks" and event.get("user") == viewer.unix_name:
        # Her notebook sessions (app/notebooks_monitor.py): the list, each session's
        # own page and the dashboard card, whichever the viewer's page has.
        sessions = [SessionView.model_validate(item) for item in event.get("sessions", [])]
        return "".join(
            [
                templates.get_template("notebooks/_sessions.html").render(
                    sessions=sessions, oob=True, csrf=csrf
                ),
                templates.get_template("notebooks/_card.html").render(
                    notebook_sessions=sessions, oob=True
                ),
                *(
                    templates.get_template("notebooks/_session.html").render(
                        s=session, oob=True, csrf=csrf
                    )
                    for session in sessions
                ),
            ]
        )
    if kind == "notifications" and event.get("user") == viewer.unix_name:
        # The bell in the navigation bar, on whichever page the viewer has open.
        template = templates.get_template("partials/bell.html")
        return template.render(unseen=int(event.get("unseen", 0)), oob=True)
    project = str(event.get("project", ""))
    if kind == "project_jobs" and projects is not None and project in projects:
        may_act = projects[project]
        # The viewer's own jobs arrive on their own channel; these are the others'.
        others = [
            job
            for job in (Job.model_validate(job) for job in event.get("jobs", []))
            if job.user != viewer.unix_name
        ]
        return "".join(
            [
                templates.get_template("jobs/_project_table.html").render(
                    project=project, jobs=others, oob=True
                ),
                *(
                    templates.get_template(name).render(
                        job=job, oob=True, csrf=csrf, may_act=may_act
                    )
                    for job in others
                    if changed is None or job.job_id in changed
                    for name in ("jobs/_status.html", "jobs/_details.html")
                ),
            ]
        )
    return None


def current_events(
    snapshot: ClusterSnapshot, unix_name: str, shared: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """The events that bring a freshly connected viewer up to date; ``shared`` holds
    the jobs.project results of the projects they may watch."""
    events = [cluster_event(snapshot), jobs_event(snapshot, unix_name)]
    for view in shared:
        whole = snapshot.model_copy(update={"jobs": view.jobs})
        events.append(project_jobs_event(whole, view.project))
    return events


class FragmentCache:
    """Renderings shared between sockets that would produce the same HTML.

    Rendering depends only on the event and, for job events, on who is looking (name,
    form token, project rights); a person with many tabs, or everyone for a cluster
    event, then costs one rendering instead of one per socket. Bounded, oldest out.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], str | None] = OrderedDict()

    def render(
        self,
        templates: Jinja2Templates,
        viewer: Identity,
        event: dict[str, Any],
        csrf: str = "",
        projects: Mapping[str, bool] | None = None,
    ) -> str | None:
        digest = event.get("digest")
        if not digest:
            return render_event(templates, viewer, event, csrf, projects)
        key: tuple[Any, ...] = (digest,)
        if event.get("kind") != "cluster":  # the same for everyone
            key += (viewer.unix_name, csrf, tuple(sorted((projects or {}).items())))
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        fragment = render_event(templates, viewer, event, csrf, projects)
        self._items[key] = fragment
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return fragment
