"""The jobs tool: submit, follow and cancel jobs without a terminal.

Everything goes through verbs (jobs.submit, jobs.cancel, cluster.snapshot,
files.read); this package holds only pages. Fixed addresses (``/jobs/history``,
``/jobs/templates``...) come before ``pages``, whose ``/jobs/{job_id}`` takes the rest.
"""

from starlette.routing import BaseRoute

from app.tools import Card, Tool
from wrappers.jobs import fromfile, history, pages, templates

routes: list[BaseRoute] = [*history.routes, *templates.routes, *fromfile.routes, *pages.routes]

tool = Tool(
    name="jobs",
    title="Jobs",
    url="/jobs",
    routes=routes,
    # The dashboard already holds her active jobs (its cluster snapshot), and the
    # card is re-rendered live by app/realtime/fragments.py under the same id.
    card=Card("partials/my_jobs.html", wide=True),
    uses=(
        "cluster.snapshot",
        "files.list",
        "files.read",
        "files.stat",
        "jobs.cancel",
        "jobs.history",
        "jobs.hold",
        "jobs.project",
        "jobs.release",
        "jobs.script",
        "jobs.show",
        "jobs.submit",
        "templates.delete",
        "templates.list",
        "templates.save",
        "templates.show",
    ),
    order=10,
)

__all__ = ["routes", "tool"]
