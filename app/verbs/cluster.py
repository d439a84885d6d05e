"""Cluster verbs: what every signed-in person may see of the cluster."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from managers.scheduler import ClusterSnapshot


class ClusterView(BaseModel):
    """The last reading of the cluster (None before the first) and the viewer's jobs."""

    snapshot: ClusterSnapshot | None


async def cluster_info(args: Any, identity: Identity, services: Any) -> str:
    return "info"


async def latest_snapshot(args: Any, identity: Identity, services: Any) -> ClusterView:
    """The watcher's reading; its jobs list is cut to the viewer's own."""
    snapshot: ClusterSnapshot | None = services.watcher.latest
    if snapshot is not None:
        snapshot = snapshot.model_copy(update={"jobs": snapshot.jobs_of(identity.unix_name)})
    return ClusterView(snapshot=snapshot)


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb(
        "cluster.snapshot",
        NoArgs,
        ClusterView,
        "cluster",
        "read",
        cluster_info,
        local=latest_snapshot,
    ),
)
