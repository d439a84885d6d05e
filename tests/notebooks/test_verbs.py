"""The notebook verbs with real agents and real Slurm: a session is a job of its owner,
its secret is hers alone, only she may see or stop it, and a form sent twice starts
one session."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from app.verbs import VerbDenied, VerbFailed, VerbInvalid
from tests.notebooks.conftest import NotebookHarness, squeue


async def test_a_session_is_a_job_of_hers_with_a_private_secret(
    notebook_harness: NotebookHarness,
) -> None:
    h = notebook_harness
    alice, bob = h.person("alice"), h.person("bob")
    view = await h.gate.call(alice, "notebooks.start", label="verbs test", time_minutes=5)
    try:
        assert view.state == "queued" and view.owner == "alice" and view.job_id
        assert view.folder == "/home/alice" and view.url == f"/notebooks/sessions/{view.id}/connect"
        owner, _, name = squeue(view.job_id).split()
        assert owner == "alice" and name == f"onestop-notebook-{view.id}"
        assert squeue(view.job_id, "%U") == str(pwd.getpwnam("alice").pw_uid)

        folder = Path(f"/home/alice/.onestop/notebooks/{view.id}")
        secret = folder / "secret"
        for path, mode in ((folder, 0o700), (folder.parent, 0o700), (secret, 0o600)):
            info = os.stat(path)
            assert stat.S_IMODE(info.st_mode) == mode, path
            assert info.st_uid == pwd.getpwnam("alice").pw_uid, path
        row = await h.notebooks.store.get(view.id)
        assert row is not None and secret.read_text() == row.secret
        assert "secret" not in view.model_dump_json() and row.secret not in view.model_dump_json()

        # Someone else may neither see nor stop it, whatever they try.
        for verb in ("notebooks.show", "notebooks.stop"):
            with pytest.raises(VerbDenied):
                await h.gate.call(bob, verb, session_id=view.id)
        assert [s.id for s in (await h.gate.call(bob, "notebooks.list")).sessions] == []
        assert view.id in [s.id for s in (await h.gate.call(alice, "notebooks.list")).sessions]
        assert squeue(view.job_id).split()[1] in ("PENDING", "RUNNING")

        stopped = await h.gate.call(alice, "notebooks.stop", session_id=view.id)
        assert stopped.state == "ended" and stopped.ended_reason == "stopped"
        assert squeue(view.job_id).split()[1] in ("CANCELLED", "COMPLETING")
        again = await h.gate.call(alice, "notebooks.stop", session_id=view.id)
        assert again.state == "ended", "stopping twice changes nothing"
    finally:
        subprocess.run(["scancel", str(view.job_id)], check=False)


async def test_the_same_form_twice_starts_one_session(notebook_harness: NotebookHarness) -> None:
    h = notebook_harness
    alice = h.person("alice")
    token = "1700000000-abcdef0123456789"
    first = await h.gate.call(alice, "notebooks.start", token=token, time_minutes=5)
    try:
        second = await h.gate.call(alice, "notebooks.start", token=token, time_minutes=5)
        assert second.id == first.id and second.job_id == first.job_id
        mine = subprocess.run(
            ["squeue", "--noheader", "--user=alice", "--format=%j"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert mine.count(f"onestop-notebook-{first.id}") == 1
    finally:
        await h.gate.call(alice, "notebooks.stop", session_id=first.id)


async def test_mistakes_are_explained_before_anything_runs(
    notebook_harness: NotebookHarness,
) -> None:
    h = notebook_harness
    alice = h.person("alice")
    with pytest.raises(VerbInvalid) as asked_too_much:
        await h.gate.call(alice, "notebooks.start", partition="debug", time_minutes=600)
    assert "time_minutes" in asked_too_much.value.fields
    with pytest.raises(VerbInvalid) as no_partition:
        await h.gate.call(alice, "notebooks.start", partition="nosuch")
    assert "partition" in no_partition.value.fields
    # Outside her home (Jupyter's root), or a folder she cannot open: refused by her
    # agent, as her, and the session is recorded as not started.
    for folder, words in (("/tmp", "home folder"), ("/home/bob", "home folder")):
        with pytest.raises(VerbFailed, match=words):
            await h.gate.call(alice, "notebooks.start", folder=folder)
    listed = (await h.gate.call(alice, "notebooks.list")).sessions
    assert any(s.ended_reason.startswith("not started") for s in listed)


async def test_forgotten_sessions_take_their_folders_with_them(
    notebook_harness: NotebookHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each session leaves a folder in her home; the ones the list no longer keeps
    (notebooks.ended_kept) are removed, as her, when she starts the next one."""
    h = notebook_harness
    alice = h.person("alice")
    old = await h.gate.call(alice, "notebooks.start", label="old", time_minutes=5)
    await h.gate.call(alice, "notebooks.stop", session_id=old.id)
    old_folder = Path(f"/home/alice/.onestop/notebooks/{old.id}")
    assert old_folder.is_dir()
    monkeypatch.setattr(h.notebooks.settings, "ended_kept", 0)
    new = await h.gate.call(alice, "notebooks.start", label="new", time_minutes=5)
    try:
        assert await h.notebooks.store.get(old.id) is None
        assert not old_folder.exists()
        assert Path(f"/home/alice/.onestop/notebooks/{new.id}/secret").exists()
    finally:
        await h.gate.call(alice, "notebooks.stop", session_id=new.id)
