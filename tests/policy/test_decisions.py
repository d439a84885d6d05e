"""What the default policy allows each role, decided through Casbin with our functions."""

from __future__ import annotations

import pytest

from app.policy import PolicyEnforcer, PolicyInputError, canonical_object


def file(path: str) -> str:
    return canonical_object("file", path)


async def test_a_user_works_on_files_and_their_own_jobs(policy: PolicyEnforcer) -> None:
    await policy.sync_derived_roles("alice", projects=["physics"], is_admin=False)
    allow = [
        ("*", file("/home/alice/data.csv"), "read"),
        ("*", file("/home/bob/data.csv"), "read"),  # the kernel, not Casbin, says no here
        ("physics", file("/"), "list"),
        ("*", file("/scratch/x"), "write"),
        ("*", file("/home/alice"), "stat"),
        ("physics", "job:alice/123", "submit"),
        ("physics", "job:alice/123", "cancel"),
        ("chem", "job:alice/123", "read"),
        ("*", "cluster:info", "read"),
    ]
    deny = [
        ("*", file("/home/alice/data.csv"), "delete"),
        ("*", file("/home/alice/data.csv"), "readwrite"),
        ("physics", "job:bob/123", "cancel"),
        ("physics", "job:bob/123", "read"),
        ("physics", "job:alice2/123", "cancel"),
        ("*", "cluster:info", "write"),
        ("*", "session:*", "read"),
        ("*", "policy:roles", "read"),
        ("*", "policy:roles", "write"),
    ]
    for domain, obj, action in allow:
        assert await policy.enforce("alice", domain, obj, action), (domain, obj, action)
    for domain, obj, action in deny:
        assert not await policy.enforce("alice", domain, obj, action), (domain, obj, action)


async def test_a_project_admin_reaches_their_project_only(policy: PolicyEnforcer) -> None:
    await policy.sync_derived_roles("carol", projects=["physics"], is_admin=False)
    assert await policy.grant("carol", "project-admin", "physics")
    assert await policy.enforce("carol", "physics", "job:bob/7", "cancel")
    assert await policy.enforce("carol", "physics", "job:bob/7", "read")
    assert not await policy.enforce("carol", "physics", "job:bob/7", "submit")
    assert not await policy.enforce("carol", "chem", "job:bob/7", "cancel")
    assert not await policy.enforce("carol", "*", "job:bob/7", "cancel")
    assert not await policy.enforce("carol", "physics", "policy:roles", "write")


async def test_staff_read_everywhere_and_change_nothing(policy: PolicyEnforcer) -> None:
    assert await policy.grant("hana", "staff", "*")
    for domain in ("*", "physics", "chem"):
        for obj in ("job:bob/7", "cluster:info", "session:*", "policy:roles"):
            assert await policy.enforce("hana", domain, obj, "read"), (domain, obj)
            for action in ("write", "cancel", "submit", "grant"):
                assert not await policy.enforce("hana", domain, obj, action), (obj, action)
    assert not await policy.enforce("hana", "*", file("/home/bob/x"), "read")


async def test_admins_may_do_everything(policy: PolicyEnforcer) -> None:
    await policy.sync_derived_roles("root1", projects=[], is_admin=True)
    for domain in ("*", "physics"):
        for obj, action in [
            ("policy:roles", "write"),
            ("job:bob/7", "cancel"),
            ("session:*", "revoke"),
            (file("/etc/shadow"), "read"),
        ]:
            assert await policy.enforce("root1", domain, obj, action), (domain, obj, action)


async def test_nobody_without_roles_may_do_anything(policy: PolicyEnforcer) -> None:
    for domain in ("*", "physics"):
        for obj, action in [
            (file("/"), "list"),
            ("job:mallory/1", "submit"),
            ("cluster:info", "read"),
            ("policy:roles", "read"),
        ]:
            assert not await policy.enforce("mallory", domain, obj, action), (obj, action)


async def test_roles_in_one_project_do_not_leak_into_another(policy: PolicyEnforcer) -> None:
    # A user role held only in physics applies in physics alone.
    assert await policy.grant("dave", "user", "physics")
    assert await policy.enforce("dave", "physics", "cluster:info", "read")
    assert not await policy.enforce("dave", "chem", "cluster:info", "read")
    assert not await policy.enforce("dave", "*", "cluster:info", "read")


@pytest.mark.parametrize(
    ("subject", "domain", "obj", "action"),
    [
        ("admin", "*", "cluster:info", "read"),  # a person may not be named like a role
        ("alice/..", "*", "cluster:info", "read"),
        ("alice", "phys ics", "cluster:info", "read"),
        ("alice", "*", "file:/a/../b", "read"),
        ("alice", "*", "cluster:info", "(read|write)"),
        ("alice", "*", "cluster:info", ""),
    ],
)
async def test_malformed_requests_are_refused(
    policy: PolicyEnforcer, subject: str, domain: str, obj: str, action: str
) -> None:
    with pytest.raises(PolicyInputError):
        await policy.enforce(subject, domain, obj, action)


async def test_grants_take_known_roles_and_plain_names(policy: PolicyEnforcer) -> None:
    with pytest.raises(PolicyInputError, match="not a role"):
        await policy.grant("alice", "wizard", "*")
    with pytest.raises(PolicyInputError):
        await policy.grant("alice", "staff", "a,b")
    with pytest.raises(PolicyInputError):
        await policy.grant("staff", "admin", "*")
    assert await policy.roles_of("alice") == []
