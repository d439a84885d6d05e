"""The portal as an unprivileged service account starts agents through one sudo rule,
and says plainly what is missing when the rule is not there."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ONESTOP = str(Path(sys.executable).with_name("onestop"))
RULE = Path("/etc/sudoers.d/onestop-agents-test")

# Imports everything while root (the code may live where the service account cannot
# read it), then becomes the service account for good, as systemd's User= would,
# and asks alice's agent something through the portal's own client.
PORTAL_AS_SERVICE_ACCOUNT = """
import asyncio, json, os, pwd, sys
from managers.agent.client import AgentClient
from managers.errors import OperationError
account = pwd.getpwnam("onestop")
os.setgroups([])
os.setgid(account.pw_gid)
os.setuid(account.pw_uid)
async def main():
    client = AgentClient("/run/onestop-agents")
    try:
        result, _ = await client.call("alice", "files.stat", {"path": "/home/alice"})
        print(json.dumps({"ok": True, "uid": os.getuid(), "result": result}))
    except OperationError as error:
        print(json.dumps({"ok": False, "kind": error.kind, "message": error.message}))
    finally:
        client.close()
asyncio.run(main())
"""


def run_portal_side() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PORTAL_AS_SERVICE_ACCOUNT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def stop_alices_agent() -> None:
    socket_path = "/run/onestop-agents/alice.sock"
    subprocess.run(["fuser", "-k", "-9", socket_path], capture_output=True, check=False)
    Path(socket_path).unlink(missing_ok=True)


@pytest.fixture
def fresh(cluster: None) -> Iterator[None]:
    stop_alices_agent()
    yield
    RULE.unlink(missing_ok=True)
    stop_alices_agent()


def test_without_the_sudo_rule_the_portal_names_the_problem(fresh: None) -> None:
    RULE.unlink(missing_ok=True)
    answer = run_portal_side()
    assert answer["ok"] is False and answer["kind"] == "launcher-not-allowed"
    assert "sudo rule" in str(answer["message"])


def test_with_the_sudo_rule_the_service_account_starts_agents(fresh: None) -> None:
    RULE.write_text(f"onestop ALL=(root) NOPASSWD: {ONESTOP} agent-launch *\n")
    RULE.chmod(0o440)
    check = subprocess.run(["visudo", "-c", "-f", str(RULE)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    answer = run_portal_side()
    assert answer["ok"] is True, answer
    assert answer["uid"] == pwd.getpwnam("onestop").pw_uid
    info = os.stat("/run/onestop-agents/alice.sock")
    assert info.st_uid == pwd.getpwnam("onestop").pw_uid, "only the service account may connect"
    # The rule lets the service account start agents and nothing else.
    other = subprocess.run(
        ["runuser", "-u", "onestop", "--", "sudo", "-n", "/usr/bin/id"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode != 0
