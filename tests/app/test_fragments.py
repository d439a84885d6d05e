"""Per-viewer fragments: only what changed is re-rendered, and equal renderings are shared."""

from __future__ import annotations

from datetime import UTC, datetime

from app.realtime.fragments import FragmentCache, render_event
from app.security.sessions import Identity
from managers.cluster_watcher import cluster_event, jobs_event
from managers.scheduler import ClusterSnapshot, JobState
from managers.scheduler.models import Job
from tests.helpers import portal_renderers, portal_templates

ALICE = Identity(user_id=1, unix_name="alice", display_name="Alice", email="")
BOB = Identity(user_id=2, unix_name="bob", display_name="Bob", email="")


def snapshot() -> ClusterSnapshot:
    jobs = [
        Job(job_id=str(n), name=f"j{n}", user="alice", account="chem", state=JobState.RUNNING)
        for n in (1, 2, 3)
    ]
    return ClusterSnapshot(taken_at=datetime.now(UTC), jobs=jobs)


def test_only_changed_jobs_get_new_status_fragments() -> None:
    templates = portal_templates()
    event = jobs_event(snapshot(), "alice", changed=["2"])
    html = render_event(templates, ALICE, event, csrf="t", renderers=portal_renderers())
    assert html is not None
    assert 'id="job-status-2"' in html and 'id="job-details-2"' in html
    assert 'id="job-status-1"' not in html and 'id="job-status-3"' not in html
    assert 'id="job-list"' in html, "the list itself is always redrawn"
    caught_up = render_event(
        templates, ALICE, jobs_event(snapshot(), "alice"), csrf="t", renderers=portal_renderers()
    )
    assert caught_up is not None and 'id="job-status-1"' in caught_up


def test_a_job_event_is_never_rendered_for_someone_else() -> None:
    templates = portal_templates()
    event = {**jobs_event(snapshot(), "alice"), "digest": "d1"}
    cache = FragmentCache(portal_renderers())
    assert cache.render(templates, ALICE, event, "t") is not None
    assert cache.render(templates, BOB, event, "u") is None


def test_equal_renderings_are_shared_and_the_cache_is_bounded() -> None:
    templates = portal_templates()
    cache = FragmentCache(portal_renderers(), size=2)
    cluster = {**cluster_event(snapshot()), "digest": "c1"}
    first = cache.render(templates, ALICE, cluster)
    assert first is not None
    assert cache.render(templates, BOB, cluster) is first, "the cluster looks the same to all"
    mine = {**jobs_event(snapshot(), "alice"), "digest": "j1"}
    one = cache.render(templates, ALICE, mine, "tab-token")
    assert cache.render(templates, ALICE, mine, "tab-token") is one
    assert cache.render(templates, ALICE, mine, "other-session") is not one
    assert len(cache._items) == 2
