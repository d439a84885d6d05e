"""The Data tool's verbs through the real gate (Casbin on a fresh database, the
audit): each person reaches only her own transfers and connections, saved secrets
are sealed in the database and never come back, and the per-person cap holds."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.security.sessions import Identity
from app.verbs import VerbDenied, VerbFailed, VerbInvalid
from managers.agent.client import AgentClient
from tests.helpers import LocalGate, local_gate
from wrappers.data.models import Transfer
from wrappers.data.service import Data

SECRET_KEY = "test-" + "k" * 40
PASSWORD = "hunter2-" + uuid.uuid4().hex


def person(name: str) -> Identity:
    return Identity(0, name, name.title(), f"{name}@example.edu", int(time.time()))


@pytest.fixture
async def built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: None
) -> AsyncIterator[tuple[LocalGate, str]]:
    monkeypatch.setenv("ONESTOP_CONFIG", "/nonexistent.toml")
    monkeypatch.setenv("ONESTOP_DATA__SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("ONESTOP_DATA__MAX_CONCURRENT_PER_PERSON", "2")
    url = f"sqlite:///{tmp_path}/onestop.db"
    agents = AgentClient(str(tmp_path / "agents"))
    gate = await local_gate(url, agents)
    for name in ("alice", "bob"):
        await gate.services.policy.sync_derived_roles(name, projects=["chem"], is_admin=False)
    try:
        yield gate, str(tmp_path / "onestop.db")
    finally:
        agents.close()
        await gate.close()


async def _her_transfer(built: LocalGate, owner: str, state: str = "running") -> Transfer:
    data = built.services.own(Data)
    row = Transfer(
        id=uuid.uuid4().hex[:16],
        owner=owner,
        direction="import",
        kind="url",
        summary="https://198.51.100.2/file.bin",
        endpoint=json.dumps({"kind": "url", "items": [{"url": "https://198.51.100.2/f"}]}),
        local_path=f"/home/{owner}",
        state=state,
        token=uuid.uuid4().hex,
    )
    created, _ = await data.store.create(row)
    return created


async def test_bob_reaches_nothing_of_alices(built: tuple[LocalGate, str]) -> None:
    gate, _ = built
    alice, bob = person("alice"), person("bob")
    mine = await _her_transfer(gate, "alice", state="failed")
    assert (await gate.gate.call(alice, "data.show", transfer_id=mine.id)).id == mine.id
    for verb in ("data.show", "data.cancel", "data.retry", "data.forget"):
        with pytest.raises(VerbDenied):
            await gate.gate.call(bob, verb, transfer_id=mine.id)
    assert (await gate.gate.call(bob, "data.list")).transfers == []
    assert [t.id for t in (await gate.gate.call(alice, "data.list")).transfers] == [mine.id]

    saved = await gate.gate.call(
        alice,
        "data.connections.save",
        kind="sftp",
        name="Lab server",
        host="198.51.100.2",
        username="alice",
        password=PASSWORD,
    )
    assert saved.secrets_saved == ["password"] and PASSWORD not in saved.model_dump_json()
    listed = await gate.gate.call(bob, "data.connections.list")
    assert saved.id not in [c.id for c in listed.connections]
    with pytest.raises(VerbDenied):
        await gate.gate.call(bob, "data.connections.delete", connection_id=saved.id)
    with pytest.raises(VerbDenied):
        await gate.gate.call(bob, "data.browse", kind="sftp", connection_id=saved.id)
    with pytest.raises(VerbDenied):
        await gate.gate.call(
            bob, "data.accept_host_key", key="ssh-ed25519 AAAAC3Nza", connection_id=saved.id
        )
    # Using her connection in an import of his: not found, and nothing started.
    with pytest.raises(VerbFailed, match="no such saved connection"):
        await gate.gate.call(bob, "data.import", source="sftp", connection_id=saved.id, path="x")
    assert (await gate.gate.call(bob, "data.list")).transfers == []
    # Nobody but the monitor follows transfers; a person may not.
    with pytest.raises(VerbDenied):
        await gate.gate.call(alice, "data.follow")


async def test_secrets_are_sealed_and_never_come_back(built: tuple[LocalGate, str]) -> None:
    gate, path = built
    alice = person("alice")
    saved = await gate.gate.call(
        alice,
        "data.connections.save",
        kind="s3",
        name="Lab bucket",
        endpoint_url="https://198.51.100.2:9000",
        bucket="lab",
        access_key="AKIAEXAMPLE",
        secret_key=PASSWORD,
    )
    with sqlite3.connect(path) as db:
        fields, blob = db.execute(
            "select fields, secret_blob from data_connections where id = ?", (saved.id,)
        ).fetchone()
        audit = " ".join(str(row) for row in db.execute("select * from audit_events"))
    assert PASSWORD not in fields and PASSWORD not in blob and blob.startswith("v1:")
    assert "AKIAEXAMPLE" not in blob and json.loads(fields)["bucket"] == "lab"
    assert PASSWORD not in audit
    # A blank secret on an edit keeps the saved one; the view names it only.
    again = await gate.gate.call(
        alice,
        "data.connections.save",
        connection_id=saved.id,
        kind="s3",
        name="Lab bucket",
        endpoint_url="https://198.51.100.2:9000",
        bucket="lab2",
    )
    assert again.secrets_saved == ["access_key", "secret_key"]
    assert again.fields["bucket"] == "lab2"
    data = gate.services.own(Data)
    row = await data.store.connection(saved.id)
    assert row is not None and data.connection_values(row)[1]["secret_key"] == PASSWORD
    # The blob is bound to its row: moved to another row, it does not open.
    with pytest.raises(Exception):  # noqa: B017
        data.vault.open(row.secret_blob, "connection:bob/" + saved.id)
    await gate.gate.call(alice, "data.connections.delete", connection_id=saved.id)
    with sqlite3.connect(path) as db:
        assert db.execute("select count(*) from data_connections").fetchone()[0] == 0


async def test_the_cap_and_plain_mistakes(built: tuple[LocalGate, str]) -> None:
    gate, _ = built
    alice = person("alice")
    with pytest.raises(VerbInvalid) as bad:
        await gate.gate.call(alice, "data.import", source="url", urls="https://x/a notahash")
    assert "urls" in bad.value.fields
    with pytest.raises(VerbInvalid) as scheme:
        await gate.gate.call(alice, "data.import", source="url", urls="file:///etc/passwd")
    assert "urls" in scheme.value.fields
    for _ in range(2):
        await _her_transfer(gate, "alice")
    with pytest.raises(VerbFailed, match="under way"):
        await gate.gate.call(alice, "data.import", source="url", urls="https://198.51.100.2/a")
    # Bob's own cap is his alone.
    with pytest.raises(VerbInvalid):
        await gate.gate.call(person("bob"), "data.import", source="git", url="")
