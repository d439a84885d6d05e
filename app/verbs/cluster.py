"""Cluster verbs: what every signed-in person may see of the cluster."""

from __future__ import annotations

from pydantic import BaseModel

from app.security.sessions import Identity
from app.verbs.catalog import AnyVerb, NoArgs, Verb
from app.verbs.services import Services
from managers.scheduler import ClusterSnapshot


class ClusterView(BaseModel):
    """The last reading of the cluster (None before the first) and the viewer's jobs."""

    snapshot: ClusterSnapshot | None


async def cluster_info(args: NoArgs, identity: Identity, services: Services) -> str:
    return "info"


async def latest_snapshot(args: NoArgs, identity: Identity, services: Services) -> ClusterView:
    """The watcher's reading; its jobs list is cut to the viewer's own."""
    snapshot: ClusterSnapshot | None = services.watcher.latest
    if snapshot is not None:
        snapshot = snapshot.model_copy(update={"jobs": snapshot.jobs_of(identity.unix_name)})
    return ClusterView(snapshot=snapshot)


VERBS: tuple[AnyVerb, ...] = (
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
