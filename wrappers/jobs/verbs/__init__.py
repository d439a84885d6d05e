"""The jobs tool's verbs: submitting and following jobs, their history, and the job
composer's templates."""

from wrappers.jobs.verbs import history, jobs, templates

VERBS = (*jobs.VERBS, *history.VERBS, *templates.VERBS)

__all__ = ["VERBS"]
