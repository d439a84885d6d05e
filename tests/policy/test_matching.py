"""Object patterns are anchored and segment-wise; actions are full matches."""

from __future__ import annotations

import pytest

from app.policy.defaults import parse_rules
from app.policy.matching import PatternError, action_match, compile_object_pattern, object_match


@pytest.mark.parametrize(
    ("pattern", "obj", "expected"),
    [
        # keyMatch would accept the first three: we do not.
        ("file:/files/alice/*", "file:/files/alice2/x", False),
        ("file:/files/alice/*", "file:/files/alice/../bob/x", False),
        ("file:/files/alice/*", "file:/files/alice/x/y", False),
        ("file:/files/alice/*", "file:/files/alice/x", True),
        ("file:/files/alice/*", "file:/files/alice", False),
        ("file:/files/alice/**", "file:/files/alice/x/y", True),
        ("file:/files/alice/**", "file:/files/alice", True),
        ("file:/files/alice/**", "file:/files/alicex", False),
        ("file:/files/alice/**", "file:/files/alice2/x", False),
        ("file:/files/alice/**", "file:/files", False),
        ("file:/**", "file:/", True),
        ("file:/**", "file:/home/alice/data.csv", True),
        ("file:/**", "job:alice/1", False),
        ("file:/a/**/z", "file:/a/z", True),
        ("file:/a/**/z", "file:/a/b/c/z", True),
        ("file:/a/**/z", "file:/a/bz", False),
        ("file:/a/*/z", "file:/a/b/z", True),
        ("file:/a/*/z", "file:/a/z", False),
        # Regex metacharacters in patterns are literal.
        ("file:/a.b", "file:/aXb", False),
        ("file:/a.b", "file:/a.b", True),
        ("file:/a+", "file:/aa", False),
        # Kinds are literal and whole.
        ("job:**", "job:alice/1", True),
        ("job:**", "jobs:alice/1", False),
        ("job:**", "xjob:alice/1", False),
        ("cluster:**", "cluster:info", True),
        ("policy:**", "policy:roles", True),
        ("session:**", "session:*", True),
        ("**", "file:/etc/shadow", True),
        ("**", "policy:roles", True),
    ],
)
def test_object_patterns_are_anchored(pattern: str, obj: str, expected: bool) -> None:
    assert object_match(obj, pattern, "alice", "physics") is expected


@pytest.mark.parametrize(
    ("obj", "subject", "domain", "expected"),
    [
        ("job:alice/123", "alice", "*", True),
        ("job:alice", "alice", "*", True),
        ("job:bob/123", "alice", "*", False),
        ("job:alice2/123", "alice", "*", False),
        ("job:alice/123", "alic", "*", False),
        ("job:a.ce/1", "a.ce", "*", True),
        ("job:abce/1", "a.ce", "*", False),  # a substituted name is literal, not a regex
    ],
)
def test_subject_substitution(obj: str, subject: str, domain: str, expected: bool) -> None:
    assert object_match(obj, "job:{sub}/**", subject, domain) is expected


def test_domain_substitution_and_no_project() -> None:
    assert object_match("project:physics/x", "project:{dom}/*", "alice", "physics")
    assert not object_match("project:chem/x", "project:{dom}/*", "alice", "physics")
    # A request in no project (domain *) never satisfies a {dom} pattern.
    assert not object_match("project:*/x", "project:{dom}/*", "alice", "*")


@pytest.mark.parametrize("pattern", ["file:/a**", "file:/**b", "a**:x", "file", ":x", "*:x"])
def test_malformed_patterns_match_nothing(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_object_pattern(pattern, "alice", "physics")
    assert not object_match("file:/a/b", pattern, "alice", "physics")


@pytest.mark.parametrize(
    ("action", "pattern", "expected"),
    [
        ("read", "(read|list|stat)", True),
        ("stat", "(read|list|stat)", True),
        ("reader", "(read|list|stat)", False),
        ("xread", "(read|list|stat)", False),
        ("read", "read", True),
        ("readwrite", "read", False),
        ("cancel", ".*", True),
        ("read", "(", False),  # malformed: denies
    ],
)
def test_actions_match_whole(action: str, pattern: str, expected: bool) -> None:
    assert action_match(action, pattern) is expected


def test_policy_files_name_their_bad_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_rules("p, user, *, file:/**, read\np, wizard, *, file:/**, read")
    with pytest.raises(ValueError, match="line 1"):
        parse_rules("p, user, *, file:/a**, read")
    with pytest.raises(ValueError, match="line 1"):
        parse_rules("g, alice, admin, *")
