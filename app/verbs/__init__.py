"""The verb interface: the catalog and the one gate in front of every manager."""

from app.verbs import (  # noqa: F401 - registers verbs
    cluster,
    files,
    files_manage,
    files_share,
    files_transfer,
    history,
    jobs,
    notebooks,
    notifications,
    policy,
    sessions,
    templates,
)
from app.verbs.catalog import CATALOG, Verb
from app.verbs.errors import VerbDenied, VerbError, VerbFailed, VerbInvalid, VerbUnavailable
from app.verbs.gate import Services, VerbGate

__all__ = [
    "CATALOG",
    "Services",
    "Verb",
    "VerbDenied",
    "VerbError",
    "VerbFailed",
    "VerbGate",
    "VerbInvalid",
    "VerbUnavailable",
]
