"""``quota -w -p -f <mount>`` parsing (managers/files/space.py, which the upload check
and the storage card share) on sample output in the format of the Linux quota tools
(``man quota``): the command is not installed on the test machine, so its output is
fed in."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from managers.files import space

HEADER = (
    "Disk quotas for user alice (uid 2001): \n"
    "     Filesystem  blocks   quota   limit   grace   files   quota   limit   grace\n"
)


def left(path: str) -> int | None:
    """What the quota leaves (the upload check takes the smaller of this and free space)."""
    limits = space.quota(path)
    return None if limits is None else max(0, limits[1] - limits[0])


def feed(monkeypatch: pytest.MonkeyPatch, output: str) -> list[list[str]]:
    """Make ``quota`` print ``output``; the argument lists it was called with."""
    calls: list[list[str]] = []

    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, stdout=output, stderr="")

    monkeypatch.setattr(space.shutil, "which", lambda name: "/usr/bin/quota")
    monkeypatch.setattr(space.subprocess, "run", run)
    return calls


def test_room_is_the_hard_limit_minus_use_in_kib(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = feed(monkeypatch, HEADER + "      /dev/sda1  102400  150000  204800       0      12       0       0       0\n")  # fmt: skip
    assert left("/tmp") == (204800 - 102400) * 1024
    assert calls[0][1:4] == ["-w", "-p", "-f"]


def test_over_the_soft_limit_the_star_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Over the soft limit: "*" after the blocks, grace as seconds since the epoch (-p).
    feed(monkeypatch, HEADER + "      /dev/sda1  160000* 150000  204800 1700000000      12       0       0       0\n")  # fmt: skip
    assert left("/tmp") == 44800 * 1024


def test_over_the_hard_limit_leaves_no_room(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, HEADER + "      /dev/sda1  210000* 150000  204800 1700000000      12       0       0       0\n")  # fmt: skip
    assert left("/tmp") == 0


@pytest.mark.parametrize(
    "output",
    [
        "",  # quota printed nothing
        "Disk quotas for user alice (uid 2001): none\n",  # no quota on this file system
        HEADER
        + "      /dev/sda1  102400       0       0       0      12       0       0       0\n",
        HEADER + "      /dev/sda1  garbage  limit\n",
    ],
)
def test_no_limit_means_no_quota_room(monkeypatch: pytest.MonkeyPatch, output: str) -> None:
    feed(monkeypatch, output)
    assert left("/tmp") is None


def test_no_quota_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(space.shutil, "which", lambda name: None)
    assert left("/tmp") is None


def test_nfs_lines_count_too(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, HEADER + "  nfs.example.edu:/export/home  1000  0  4000  0  3  0  0  0\n")
    assert space.quota("/tmp") == (1000 * 1024, 4000 * 1024)


def test_a_soft_limit_alone_is_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, HEADER + "      /dev/sda1  102400  150000       0       0      12       0       0       0\n")  # fmt: skip
    assert left("/tmp") == (150000 - 102400) * 1024


def test_the_upload_check_takes_the_smaller_of_quota_and_free_space(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1 GiB free on the disk (fixed here, so nothing else writing /tmp can move it).
    disk = os.statvfs_result((4096, 4096, 0, 0, 262144, 0, 0, 0, 0, 255))
    monkeypatch.setattr(space.os, "statvfs", lambda path: disk)
    feed(monkeypatch, HEADER + "      /dev/sda1  102400  150000  204800       0      12       0       0       0\n")  # fmt: skip
    assert space.room("/tmp") == (204800 - 102400) * 1024
    feed(monkeypatch, HEADER + "      /dev/sda1  1  0  999999999999  0  12  0  0  0\n")
    assert space.room("/tmp") == 262144 * 4096
