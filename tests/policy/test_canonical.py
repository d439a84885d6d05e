"""One spelling per object: paths are resolved lexically, odd input is refused."""

from __future__ import annotations

import pytest

from app.policy import PolicyInputError, canonical_object
from app.policy.canonical import MAX_OBJECT_LENGTH, check_canonical


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/home/alice/data.csv", "/home/alice/data.csv"),
        ("/", "/"),
        ("/home/alice/", "/home/alice"),
        ("//home//alice///x", "/home/alice/x"),
        ("//", "/"),
        ("/./home/./alice/.", "/home/alice"),
        ("/..", "/"),
        ("/../..", "/"),
        ("/../home/alice", "/home/alice"),
        ("/home/../etc/passwd", "/etc/passwd"),
        ("/files/alice/../bob/x", "/files/bob/x"),
        ("/home/alice/..", "/home"),
        ("/home/alice/x/../../bob", "/home/bob"),
        ("/a/b/../../../..", "/"),
        ("/home/alice/...", "/home/alice/..."),
        ("/home/alice/..x", "/home/alice/..x"),
        ("/home/alice/x..", "/home/alice/x.."),
        ("/home/alice/a b*?", "/home/alice/a b*?"),
        ("/home/alice/日本語.txt", "/home/alice/日本語.txt"),
    ],
)
def test_file_paths(value: str, expected: str) -> None:
    assert canonical_object("file", value) == f"file:{expected}"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("home/alice", "absolute"),
        ("../alice", "absolute"),
        ("..", "absolute"),
        ("./x", "absolute"),
        ("", "absolute"),
        ("~alice/x", "absolute"),
        ("/home/alice\x00/x", "NUL"),
        ("/home/alice\n/x", "control"),
        ("/home/alice\x1b[2J", "control"),
        ("/home/alice\x7f", "control"),
        ("/home/alice\x85", "control"),
        ("/home\\alice", "backslash"),
        ("\\\\server\\share", "backslash"),
        ("/" + "a" * MAX_OBJECT_LENGTH, "longer"),
    ],
)
def test_file_paths_refused(value: str, reason: str) -> None:
    with pytest.raises(PolicyInputError, match=reason):
        canonical_object("file", value)


def test_the_longest_path_is_accepted() -> None:
    value = "/" + "a" * (MAX_OBJECT_LENGTH - 1)
    assert canonical_object("file", value) == f"file:{value}"


@pytest.mark.parametrize(
    ("kind", "value"),
    [("job", "alice/123"), ("cluster", "info"), ("policy", "roles"), ("session", "*")],
)
def test_other_kinds_pass_unchanged(kind: str, value: str) -> None:
    assert canonical_object(kind, value) == f"{kind}:{value}"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("job", "alice/../bob/1"),
        ("job", ".."),
        ("job", "../bob"),
        ("job", "alice/.."),
        ("job", "alice..1"),
        ("job", "alice//1"),
        ("job", "/alice/1"),
        ("job", "alice/1/"),
        ("job", "alice/./1"),
        ("job", ""),
        ("job", "alice 1"),
        ("job", "alice\\1"),
        ("job", "alice\x00"),
        ("job", "alice;rm"),
        ("job", "a:b"),
        ("job", "a,b"),
        ("job", "x" * (MAX_OBJECT_LENGTH + 1)),
        ("Job", "alice/1"),
        ("", "alice/1"),
        ("job:x", "alice/1"),
        ("*", "alice/1"),
    ],
)
def test_other_kinds_refused(kind: str, value: str) -> None:
    with pytest.raises(PolicyInputError):
        canonical_object(kind, value)


@pytest.mark.parametrize(
    "obj", ["file:/a/../b", "file:/a/", "file:relative", "nokind", "job:a/../b"]
)
def test_the_enforcer_refuses_objects_that_skipped_canonicalisation(obj: str) -> None:
    with pytest.raises(PolicyInputError):
        check_canonical(obj)
