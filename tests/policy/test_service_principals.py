"""Service principals (``service:public-links``): subjects of their own rules, which
hold no role and are reached by no person's or role's rule."""

from __future__ import annotations

import pytest

from app.policy import PolicyEnforcer, PolicyInputError, canonical_object
from app.policy.defaults import parse_rules
from app.policy.roles import check_principal, check_service, check_subject

LINKS = "service:public-links"
MONITOR = "service:notebooks-monitor"


def file(path: str) -> str:
    return canonical_object("file", path)


@pytest.mark.parametrize("name", [LINKS, MONITOR, "service:x1"])
def test_a_service_principal_is_spelled_service_colon_name(name: str) -> None:
    assert check_service(name) == name
    assert check_principal(name) == name
    with pytest.raises(PolicyInputError):
        check_subject(name)  # never a person: no role may be granted to it


@pytest.mark.parametrize(
    "name", ["service:", "service:Links", "service:a/b", "service:-x", "service:a b", "svc:x"]
)
def test_anything_else_is_not_a_service_principal(name: str) -> None:
    with pytest.raises(PolicyInputError):
        check_service(name)


def test_a_rule_may_name_a_service_principal_or_a_role_only() -> None:
    assert parse_rules(f"p, {LINKS}, *, file:/**, read-published") == [
        [LINKS, "*", "file:/**", "read-published"]
    ]
    for subject in ("alice", "service:Bad", "root"):
        with pytest.raises(ValueError, match="line 1"):
            parse_rules(f"p, {subject}, *, file:/**, read")


async def test_a_service_may_do_what_its_own_rules_say_and_nothing_else(
    policy: PolicyEnforcer,
) -> None:
    home = file("/home/alice/report.txt")
    assert await policy.enforce(LINKS, "*", home, "read-published")
    assert await policy.enforce(LINKS, "chem", home, "read-published")
    for action in ("read", "list", "stat", "write", "share"):
        assert not await policy.enforce(LINKS, "*", home, action), action
    # Nobody's role reaches a service, and no person may use what a service may.
    await policy.sync_derived_roles("alice", projects=["chem"], is_admin=False)
    assert await policy.enforce("alice", "*", home, "read")
    assert not await policy.enforce("alice", "*", home, "read-published")
    assert not await policy.enforce(MONITOR, "*", home, "read-published")
    assert not await policy.enforce(LINKS, "*", "cluster:info", "read")


async def test_no_role_can_be_given_to_a_service(policy: PolicyEnforcer) -> None:
    with pytest.raises(PolicyInputError):
        await policy.grant(LINKS, "admin", "*")
    with pytest.raises(PolicyInputError):
        await policy.sync_derived_roles(LINKS, projects=[], is_admin=True)
    assert not await policy.enforce(LINKS, "*", "policy:roles", "write")
