"""``call_as_service``: a tool's service principal acting for a person nobody signed
in as. Policy asks about the service alone (never her rights or anyone's role), the
audit row names both, and the work is done by her agent as her."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from app.models import AuditEvent
from app.verbs import VerbDenied, VerbFailed
from tests.verbs.conftest import Harness

LINKS = "service:public-links"
ALICE, BOB = 2001, 2002


@pytest.fixture
def files() -> Iterator[tuple[Path, Path]]:
    hers, his = Path("/home/alice/service-call.txt"), Path("/home/bob/service-call.txt")
    for path, uid, text in ((hers, ALICE, "hers"), (his, BOB, "his")):
        path.write_text(text)
        os.chown(path, uid, uid)
        os.chmod(path, 0o644)
    yield hers, his
    hers.unlink(missing_ok=True)
    his.unlink(missing_ok=True)


async def rows(harness: Harness, action: str) -> list[AuditEvent]:
    await harness.auditor.flush()
    async with harness.database() as db:
        found = await db.exec(select(AuditEvent).where(AuditEvent.action == action))
        return list(found.all())


async def test_the_service_acts_as_its_rule_says_and_the_audit_names_both(
    harness: Harness, files: tuple[Path, Path]
) -> None:
    hers, _ = files
    opened = await harness.gate.call_as_service(LINKS, "alice", "files.public_open", root=str(hers))
    data, size = opened.head(100)
    assert (data, size) == (b"hers", 4)
    (row,) = [row for row in await rows(harness, "files.public_open") if row.actor == LINKS]
    assert (row.object, row.outcome) == (f"file:{hers}", "ok")
    assert json.loads(row.detail)["on_behalf_of"] == "alice"


async def test_her_rights_and_anyones_roles_do_not_reach_the_service(
    harness: Harness, files: tuple[Path, Path]
) -> None:
    hers, _ = files
    # She may read her file herself; the service may not read it for her, nor for an
    # administrator: only the service's own rule counts.
    own = await harness.gate.call(harness.person("alice"), "files.read", path=str(hers))
    assert own.head(100) == (b"hers", 4)
    for person in ("alice", "erin"):
        with pytest.raises(VerbDenied):
            await harness.gate.call_as_service(LINKS, person, "files.read", path=str(hers))
    with pytest.raises(VerbDenied):
        await harness.gate.call_as_service(LINKS, "erin", "sessions.revoke", user="alice")
    refused = [(row.actor, row.outcome) for row in await rows(harness, "files.read")]
    assert refused.count((LINKS, "denied")) == 2
    # And a person may not use the verb that is the service's alone.
    with pytest.raises(VerbDenied):
        await harness.gate.call(harness.person("alice"), "files.public_open", root=str(hers))


async def test_the_work_is_done_by_her_agent_as_her(
    harness: Harness, files: tuple[Path, Path]
) -> None:
    """A file of bob's, opened for alice: her agent, as her, refuses it (it is not
    something she could have published), whatever policy allowed."""
    _, his = files
    with pytest.raises(VerbFailed):
        await harness.gate.call_as_service(LINKS, "alice", "files.public_open", root=str(his))
    opened = await harness.gate.call_as_service(LINKS, "bob", "files.public_open", root=str(his))
    assert opened.head(100) == (b"his", 3)


async def test_only_a_declared_service_may_be_acted_as(harness: Harness) -> None:
    for service in ("service:nobody", "alice", "admin"):
        with pytest.raises(VerbDenied):
            await harness.gate.call_as_service(service, "alice", "files.stat", path="/home/alice")
