"""The jobs tool: submit, follow and cancel jobs without a terminal.

Everything goes through verbs (jobs.submit, jobs.cancel, cluster.snapshot,
files.read); this package holds only pages. Fixed addresses (``/jobs/history``,
``/jobs/templates``...) come before ``pages``, whose ``/jobs/{job_id}`` takes the rest.
"""

from starlette.routing import BaseRoute

from wrappers.jobs import fromfile, history, pages, templates

routes: list[BaseRoute] = [*history.routes, *templates.routes, *fromfile.routes, *pages.routes]

__all__ = ["routes"]
