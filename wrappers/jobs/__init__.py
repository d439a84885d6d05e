"""The jobs tool: submit, follow and cancel jobs without a terminal.

Everything goes through verbs (jobs.submit, jobs.cancel, cluster.snapshot,
files.read); this package holds only pages.
"""

from wrappers.jobs.pages import routes

__all__ = ["routes"]
