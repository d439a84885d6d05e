"""The jobs tool: submit, follow and cancel jobs without a terminal.

Everything goes through verbs (jobs.*, templates.*, cluster.snapshot, files.read);
the tool brings its verbs (``verbs/``), its rules, its live job events
(``fragments``), its table (the composer's templates) and the agent operations its
verbs run (managers/execution/agent_operations.py). Fixed addresses
(``/jobs/history``, ``/jobs/templates``...) come before ``pages``, whose
``/jobs/{job_id}`` takes the rest.
"""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from app.tools import Card, Tool
from app.verbs import Services
from app.verbs.services import Extensions
from managers.execution.agent_operations import OPERATIONS
from wrappers.jobs import fragments, fromfile, help_context, history, pages, templates
from wrappers.jobs.models import JobTemplate
from wrappers.jobs.project_access import project_access
from wrappers.jobs.template_store import TemplateStore
from wrappers.jobs.verbs import VERBS

routes: list[BaseRoute] = [*history.routes, *templates.routes, *fromfile.routes, *pages.routes]


async def provide(services: Services) -> TemplateStore:
    return TemplateStore(services.database)


@contextlib.asynccontextmanager
async def seeding(app: Starlette) -> AsyncIterator[None]:
    """At start, a fresh site's composer gets its example templates (never empty)."""
    extensions: Extensions = app.state.extensions
    store = extensions.get(TemplateStore)
    if store is not None:
        await store.seed_examples()
    yield


tool = Tool(
    name="jobs",
    title="Jobs",
    url="/jobs",
    routes=routes,
    templates=__name__,
    # The dashboard already holds her active jobs (its cluster snapshot), and the
    # card is re-rendered live by ``fragments`` under the same id.
    card=Card("partials/my_jobs.html", wide=True),
    verbs=VERBS,
    namespaces=("templates",),
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
    kinds=("job", "template"),
    policy=(
        "p, user, *, job:{sub}/**, (submit|cancel|read)",
        # A project admin holds the role in one project's domain; the gate passes a
        # job's project (its Slurm account) as the domain, so this reaches its jobs.
        "p, project-admin, *, job:**, (cancel|read)",
        # Help desk: read-only views of jobs.
        "p, staff, *, job:**, read",
        # Job templates: template:personal/<owner>/<id>,
        # template:project/<project>/<creator>/<id> in that project's domain,
        # template:site/<id>. Own templates: everything. A project's members read and
        # change its templates and delete the ones they made; its project admins
        # delete any. Everyone reads the site's; only admins (the core's rule) write.
        "p, user, *, template:personal/{sub}/**, (read|write|delete)",
        "p, member, *, template:project/{dom}/**, (read|write)",
        "p, member, *, template:project/{dom}/{sub}/*, delete",
        "p, project-admin, *, template:project/{dom}/**, (read|write|delete)",
        "p, user, *, template:site/*, read",
    ),
    renderers=fragments.RENDERERS,
    catch_up=fragments.catch_up,
    project_access=project_access,
    models=(JobTemplate,),
    operations=OPERATIONS,
    provides=provide,
    lifespan=seeding,
    # What its pages show, for someone asked for help from one.
    page_context=help_context.page_context,
    order=10,
)

__all__ = ["routes", "tool"]
