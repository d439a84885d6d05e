"""The verb interface: the catalog and the one gate in front of every manager.

The core's own verbs are here (the cluster, who may do what, signed-in sessions);
every other verb is a tool's (``Tool.verbs``) and joins the gate's catalog while
the tool is enabled (app/tools.py ``catalog_of``).
"""

from app.verbs import cluster, policy, sessions
from app.verbs.catalog import Catalog, Verb
from app.verbs.errors import (
    ErrorKind,
    VerbDenied,
    VerbError,
    VerbFailed,
    VerbInvalid,
    VerbUnavailable,
)
from app.verbs.gate import VerbGate
from app.verbs.services import Services

CORE_VERBS = (*cluster.VERBS, *policy.VERBS, *sessions.VERBS)

__all__ = [
    "CORE_VERBS",
    "Catalog",
    "ErrorKind",
    "Services",
    "Verb",
    "VerbDenied",
    "VerbError",
    "VerbFailed",
    "VerbGate",
    "VerbInvalid",
    "VerbUnavailable",
]
