"""``quota -w -p -f <mount>`` parsing (managers/files/transfer._quota_room) on sample
output in the format of the Linux quota tools (``man quota``): the command is not
installed on the test machine, so its output is fed in."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from managers.files import transfer

HEADER = (
    "Disk quotas for user alice (uid 2001): \n"
    "     Filesystem  blocks   quota   limit   grace   files   quota   limit   grace\n"
)


def feed(monkeypatch: pytest.MonkeyPatch, output: str) -> list[list[str]]:
    """Make ``quota`` print ``output``; the argument lists it was called with."""
    calls: list[list[str]] = []

    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, stdout=output, stderr="")

    monkeypatch.setattr(transfer.shutil, "which", lambda name: "/usr/bin/quota")
    monkeypatch.setattr(transfer.subprocess, "run", run)
    return calls


def test_room_is_the_hard_limit_minus_use_in_kib(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = feed(monkeypatch, HEADER + "      /dev/sda1  102400  150000  204800       0      12       0       0       0\n")  # fmt: skip
    assert transfer._quota_room("/tmp") == (204800 - 102400) * 1024
    assert calls[0][1:4] == ["-w", "-p", "-f"]


def test_over_the_soft_limit_the_star_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Over the soft limit: "*" after the blocks, grace as seconds since the epoch (-p).
    feed(monkeypatch, HEADER + "      /dev/sda1  160000* 150000  204800 1700000000      12       0       0       0\n")  # fmt: skip
    assert transfer._quota_room("/tmp") == 44800 * 1024


def test_over_the_hard_limit_leaves_no_room(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, HEADER + "      /dev/sda1  210000* 150000  204800 1700000000      12       0       0       0\n")  # fmt: skip
    assert transfer._quota_room("/tmp") == 0


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
    assert transfer._quota_room("/tmp") is None


def test_no_quota_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer.shutil, "which", lambda name: None)
    assert transfer._quota_room("/tmp") is None
