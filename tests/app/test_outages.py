"""When the identity provider or Slurm does not answer, people read a sentence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from alembic import command

from app.db import alembic_config
from app.main import create_app
from app.realtime.fragments import render_event
from app.security.sessions import Identity
from app.settings import OIDCSettings, load_settings
from managers.cluster_watcher import cluster_event
from managers.scheduler import ClusterSnapshot, Node, NodeState
from tests.helpers import portal_renderers, portal_templates


async def test_sign_in_while_the_provider_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/down.db"
    command.upgrade(alembic_config(url), "head")
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    settings = load_settings(database_url=url, oidc=OIDCSettings(issuer="http://127.0.0.1:9"))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        answer = await client.get("/login")
    await app.state.engine.dispose()
    assert answer.status_code == 503
    assert "The campus sign-in service is not answering" in answer.text
    assert "Traceback" not in answer.text


def test_an_unreachable_scheduler_is_shown_as_such() -> None:
    snapshot = ClusterSnapshot(
        reachable=False,
        error="The scheduler is not answering right now.",
        taken_at=datetime.now(UTC),
        nodes=[Node(name="node1", state=NodeState.IDLE, cpus=2)],
    )
    viewer = Identity(1, "alice", "Alice Anderson", "")
    html = render_event(
        portal_templates(), viewer, cluster_event(snapshot), renderers=portal_renderers()
    )
    assert html is not None
    assert "The scheduler is not answering right now" in html
    assert 'data-node="node1"' in html, "what was known stays visible"


def test_a_viewer_never_renders_someone_elses_jobs() -> None:
    viewer = Identity(1, "alice", "Alice Anderson", "")
    event = {"kind": "jobs", "user": "bob", "jobs": []}
    assert render_event(portal_templates(), viewer, event, renderers=portal_renderers()) is None
