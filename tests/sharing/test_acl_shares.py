"""Shares are real POSIX ACLs, set by the owner's agent and checked by the kernel:
bob reads as himself (runuser), never more than he was given, and revoking leaves
exactly the ACLs that were there before (getfacl before and after)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.verbs import VerbDenied, VerbFailed, VerbInvalid
from tests.sharing.race import swapping
from tests.verbs.conftest import Harness

ALICE = 2001


def facl(path: Path | str) -> str:
    return subprocess.run(
        ["getfacl", "--absolute-names", "--physical", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def as_user(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", *command], capture_output=True, text=True, check=False
    )


def own(path: Path, uid: int = ALICE, gid: int = ALICE) -> None:
    for root, folders, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in folders + files:
            os.lchown(os.path.join(root, name), uid, gid)


@pytest.fixture
def tree() -> Iterator[Path]:
    """/home/alice/share-t/{data/results/r.txt, data/sib.txt, private/secret.txt},
    folders 0700 and files 0600, so nobody but alice gets in without a share."""
    top = Path("/home/alice/share-t")
    shutil.rmtree(top, ignore_errors=True)
    (top / "data/results").mkdir(parents=True)
    (top / "private").mkdir()
    (top / "data/results/r.txt").write_text("result")
    (top / "data/sib.txt").write_text("sibling")
    (top / "private/secret.txt").write_text("secret")
    own(top)
    for root, _folders, files in os.walk(top):
        os.chmod(root, 0o700)
        for name in files:
            os.chmod(os.path.join(root, name), 0o600)
    yield top
    shutil.rmtree(top, ignore_errors=True)
    # Whatever happened, leave her home as the demo made it.
    for entry in ("u:bob", "u:carol", "g:chem", "g:physics"):  # what these tests may add
        subprocess.run(["setfacl", "-x", entry, "/home/alice"], check=False, capture_output=True)


def snapshot(top: Path) -> dict[str, str]:
    paths = [Path("/home/alice"), top]
    for root, folders, files in os.walk(top):
        paths += [Path(root) / name for name in folders + files]
    return {str(path): facl(path) for path in paths}


async def test_read_only_share_for_bob(harness: Harness, tree: Path) -> None:
    alice, bob = harness.person("alice"), harness.person("bob")
    before = snapshot(tree)
    results = tree / "data/results"
    assert as_user("bob", "cat", str(results / "r.txt")).returncode != 0
    made = await harness.gate.call(
        alice, "files.share", path=str(results), grantee_kind="user", grantee="bob"
    )
    assert made.access == "read" and made.kind == "folder"
    # Bob reads as himself, through the kernel.
    assert as_user("bob", "cat", str(results / "r.txt")).stdout == "result"
    assert as_user("bob", "ls", str(results)).stdout.split() == ["r.txt"]
    # ...but cannot write, nor reach siblings, nor list the parents he only passes.
    assert as_user("bob", "sh", "-c", f"echo x >> {results}/r.txt").returncode != 0
    assert as_user("bob", "touch", str(results / "new.txt")).returncode != 0
    assert as_user("bob", "cat", str(tree / "data/sib.txt")).returncode != 0
    assert as_user("bob", "ls", str(tree / "data")).returncode != 0
    assert as_user("bob", "cat", str(tree / "private/secret.txt")).returncode != 0
    assert "user:bob:--x" in facl("/home/alice")
    assert "default:user:bob:r-x" in facl(results)
    # He cannot raise his permissions or re-share: his own agent gets EPERM.
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(bob, "files.chmod", path=str(results / "r.txt"), mode=0o666)
    assert refused.value.detail == "EPERM"
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(
            bob, "files.share", path=str(results), grantee_kind="user", grantee="carol"
        )
    assert refused.value.detail == "EPERM"
    with pytest.raises(VerbFailed):
        await harness.gate.call(bob, "files.publish", path=str(results / "r.txt"))
    # Lists on both sides.
    bobs = await harness.gate.call(bob, "files.shares")
    assert [(s.owner, s.path) for s in bobs.shared_with_me] == [("alice", str(results))]
    alices = await harness.gate.call(alice, "files.shares")
    assert [(s.grantee, s.access) for s in alices.shared_by_me] == [("bob", "read")]
    assert alices.shared_with_me == []
    # Bob cannot stop alice's share either.
    with pytest.raises(VerbFailed):
        await harness.gate.call(bob, "files.unshare", share_id=made.id)
    await harness.gate.call(alice, "files.unshare", share_id=made.id)
    assert snapshot(tree) == before, "revoking must leave exactly the ACLs from before"
    assert as_user("bob", "cat", str(results / "r.txt")).returncode != 0
    assert (await harness.gate.call(bob, "files.shares")).shared_with_me == []
    audited = await harness.audit("files.share")
    assert ("alice", f"file:{results}", "ok") in audited
    assert ("bob", f"file:{results}", "failed") in audited


async def test_read_write_share_inherits_and_revokes_cleanly(harness: Harness, tree: Path) -> None:
    alice = harness.person("alice")
    before = snapshot(tree)
    data = tree / "data"
    made = await harness.gate.call(
        alice, "files.share", path=str(data), grantee_kind="user", grantee="bob", access="write"
    )
    assert as_user("bob", "sh", "-c", f"echo more >> {data}/sib.txt").returncode == 0
    assert as_user("bob", "touch", str(data / "results/by-bob.txt")).returncode == 0
    # A file alice makes later inherits bob's access (the default ACL).
    as_user("alice", "sh", "-c", f"umask 077; echo later > {data}/results/later.txt")
    assert "user:bob:rw" in facl(data / "results/later.txt")  # masked to rw- by its mode
    assert as_user("bob", "cat", str(data / "results/later.txt")).stdout == "later\n"
    assert as_user("bob", "cat", str(tree / "private/secret.txt")).returncode != 0
    await harness.gate.call(alice, "files.unshare", share_id=made.id)
    (data / "results/by-bob.txt").unlink()  # bob's own file: alice cannot change its ACL
    after = snapshot(tree)
    later = str(data / "results/later.txt")
    assert "bob" not in after.pop(later)
    assert after == before
    assert as_user("bob", "cat", str(data / "sib.txt")).returncode != 0


async def test_group_share_for_her_own_project_only(harness: Harness, tree: Path) -> None:
    alice = harness.person("alice")
    before = snapshot(tree)
    with pytest.raises(VerbInvalid, match="project groups"):
        await harness.gate.call(
            alice, "files.share", path=str(tree / "data"), grantee_kind="group", grantee="physics"
        )
    chem = await harness.gate.call(
        alice, "files.share", path=str(tree / "data"), grantee_kind="group", grantee="chem"
    )
    assert as_user("bob", "cat", str(tree / "data/sib.txt")).stdout == "sibling"
    assert as_user("carol", "cat", str(tree / "data/sib.txt")).returncode != 0
    assert "group:chem:--x" in facl("/home/alice")
    await harness.gate.call(alice, "files.unshare", share_id=chem.id)
    assert snapshot(tree) == before


async def test_a_parent_entry_stays_while_another_share_needs_it(
    harness: Harness, tree: Path
) -> None:
    alice = harness.person("alice")
    before = snapshot(tree)
    first = await harness.gate.call(
        alice, "files.share", path=str(tree / "data/results"), grantee_kind="user", grantee="bob"
    )
    second = await harness.gate.call(
        alice, "files.share", path=str(tree / "private"), grantee_kind="user", grantee="bob"
    )
    inner = await harness.gate.call(
        alice,
        "files.share",
        path=str(tree / "data/results/r.txt"),
        grantee_kind="user",
        grantee="bob",
        access="write",
    )
    await harness.gate.call(alice, "files.unshare", share_id=first.id)
    assert "user:bob:--x" in facl("/home/alice"), "the other shares still need it"
    assert as_user("bob", "cat", str(tree / "private/secret.txt")).stdout == "secret"
    # The file shared on its own is still reachable and writable.
    assert as_user("bob", "sh", "-c", f"echo w >> {tree}/data/results/r.txt").returncode == 0
    assert as_user("bob", "ls", str(tree / "data/results")).returncode != 0
    await harness.gate.call(alice, "files.unshare", share_id=second.id)
    await harness.gate.call(alice, "files.unshare", share_id=inner.id)
    assert snapshot(tree) == before


async def test_physics_group_share_lets_carol_read(harness: Harness, tree: Path) -> None:
    """Someone in physics shares with physics: carol reads, and nothing else."""
    policy = harness.gate.services.policy
    await policy.sync_derived_roles("alice", projects=["chem", "physics"], is_admin=False)
    alice = harness.person("alice")
    before = snapshot(tree)
    made = await harness.gate.call(
        alice,
        "files.share",
        path=str(tree / "data/results"),
        grantee_kind="group",
        grantee="physics",
    )
    assert as_user("carol", "cat", str(tree / "data/results/r.txt")).stdout == "result"
    assert as_user("carol", "cat", str(tree / "data/sib.txt")).returncode != 0
    carols = await harness.gate.call(harness.person("carol"), "files.shares")
    assert [s.path for s in carols.shared_with_me] == [str(tree / "data/results")]
    await harness.gate.call(alice, "files.unshare", share_id=made.id)
    assert snapshot(tree) == before


async def test_permissions_in_words_and_recursive_chmod(harness: Harness, tree: Path) -> None:
    alice, bob = harness.person("alice"), harness.person("bob")
    shown = await harness.gate.call(alice, "files.permissions", path=str(tree / "data"))
    assert (shown.kind, shown.owner, shown.is_owner) == ("folder", "alice", True)
    assert (shown.user_obj, shown.group_obj, shown.other) == (7, 0, 0)
    script = tree / "data/run.sh"
    script.write_text("#!/bin/sh\n")
    os.chown(script, ALICE, ALICE)
    os.chmod(script, 0o700)
    done = await harness.gate.call(
        alice, "files.chmod", path=str(tree / "data"), mode=0o755, recursive=True
    )
    assert done.changed == 5 and done.skipped == 0
    assert (tree / "data/results").stat().st_mode & 0o777 == 0o755
    assert (tree / "data/sib.txt").stat().st_mode & 0o777 == 0o644  # data keeps no x
    assert script.stat().st_mode & 0o777 == 0o755  # a program stays one
    assert (tree / "private").stat().st_mode & 0o777 == 0o700
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(bob, "files.chmod", path=str(tree / "data"), mode=0o777)
    assert refused.value.detail in ("EPERM", "EACCES")
    assert (tree / "data").stat().st_mode & 0o777 == 0o755


async def test_a_stranger_is_denied_by_policy(harness: Harness, tree: Path) -> None:
    with pytest.raises(VerbDenied):
        await harness.gate.call(
            harness.person("mallory"), "files.chmod", path=str(tree), mode=0o777
        )


async def test_symlink_race_never_changes_anything_outside(harness: Harness, tree: Path) -> None:
    """A thread swaps a real folder and a symlink (to bob's file, to /etc, to alice's
    private folder) as fast as it can while alice shares and chmods that name: the
    targets keep their mode and ACL, whatever the timing."""
    alice = harness.person("alice")
    bobs = Path("/home/bob/race-target.txt")
    bobs.write_text("bob's")
    os.chown(bobs, 2002, 2002)
    os.chmod(bobs, 0o600)
    targets = [bobs, Path("/etc/hostname"), tree / "private"]
    watched = [*targets, tree / "private/secret.txt"]
    before = {str(path): (path.stat().st_mode, facl(path)) for path in watched}
    swap = tree / "data/swap"
    real = tree / "data/real"
    real.mkdir()
    os.chown(real, ALICE, ALICE)
    outcomes: dict[str, int] = {}
    try:
        with swapping(swap, real, targets):
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                for verb, args in (
                    ("files.chmod", {"mode": 0o777}),
                    (
                        "files.share",
                        {"grantee_kind": "user", "grantee": "carol", "access": "write"},
                    ),
                ):
                    try:
                        made = await harness.gate.call(alice, verb, path=str(swap), **args)
                        outcomes["ok"] = outcomes.get("ok", 0) + 1
                        if verb == "files.share":
                            await harness.gate.call(alice, "files.unshare", share_id=made.id)
                    except VerbFailed as error:
                        outcomes[error.detail] = outcomes.get(error.detail, 0) + 1
    finally:
        after = {str(path): (path.stat().st_mode, facl(path)) for path in watched}
        bobs.unlink()
    assert after == before, outcomes
    assert sum(outcomes.values()) > 10, outcomes


async def test_share_refuses_a_symlink_and_names_no_system_account(
    harness: Harness, tree: Path
) -> None:
    alice = harness.person("alice")
    (tree / "link").symlink_to(tree / "private")
    os.lchown(tree / "link", ALICE, ALICE)
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(
            alice, "files.share", path=str(tree / "link"), grantee_kind="user", grantee="bob"
        )
    assert refused.value.detail == "ELOOP" and "shortcut" in refused.value.message
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(
            alice, "files.share", path=str(tree / "data"), grantee_kind="user", grantee="root"
        )
    assert refused.value.detail == "ENOENT"
    assert "bob" not in facl(tree / "private")
