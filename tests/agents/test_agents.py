"""Agents run as their person: the kernel and Slurm see alice, not the portal."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from managers.agent.client import AgentClient
from managers.errors import OperationError
from tests.agents.conftest import agent_pids
from tests.helpers import wait_until

ALICE_HOME = Path(pwd.getpwnam("alice").pw_dir) if os.path.isdir("/home/alice") else Path("/")


def as_user(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", *command], capture_output=True, text=True, check=False
    )


@pytest.fixture
def secret() -> Path:
    """A 0600 file of alice's that bob must never read."""
    path = ALICE_HOME / "secret.txt"
    path.write_text("alice's secret\n")
    os.chown(path, pwd.getpwnam("alice").pw_uid, pwd.getpwnam("alice").pw_gid)
    path.chmod(0o600)
    return path


async def test_a_written_file_belongs_to_the_person_with_their_umask(
    agents: AgentClient,
) -> None:
    target = ALICE_HOME / "written-by-agent.txt"
    target.unlink(missing_ok=True)
    result, _ = await agents.call("alice", "files.write", {"path": str(target), "content": "x"})
    info = target.stat()
    assert pwd.getpwuid(info.st_uid).pw_name == "alice"
    # alice has a private group and Debian's login.defs says UMASK 022 with
    # USERGROUPS_ENAB yes, so a login would give her umask 002: files are 0664.
    assert stat.S_IMODE(info.st_mode) == 0o664
    assert result["uid"] == info.st_uid
    assert not list(ALICE_HOME.glob(".onestop-*.part")), "no temporary file is left behind"


async def test_a_file_is_never_overwritten_by_accident(agents: AgentClient) -> None:
    target = ALICE_HOME / "keep-me.txt"
    target.write_text("original")
    with pytest.raises(OperationError, match="already exists"):
        await agents.call("alice", "files.write", {"path": str(target), "content": "new"})
    assert target.read_text() == "original"


async def test_a_read_hands_over_an_open_file(agents: AgentClient, secret: Path) -> None:
    _, fds = await agents.call("alice", "files.read", {"path": str(secret)})
    try:
        assert os.read(fds[0], 100) == b"alice's secret\n"
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize(
    "spelling",
    [
        "{home}/secret.txt",
        "/home/bob/../alice/secret.txt",
        "//home//alice//secret.txt",
        "/home/./alice/./secret.txt",
        "/home/bob/link-to-alice",
    ],
)
async def test_bob_cannot_read_alices_file_however_spelled(
    agents: AgentClient, secret: Path, spelling: str
) -> None:
    link = Path("/home/bob/link-to-alice")
    link.unlink(missing_ok=True)
    done = as_user("bob", "ln", "-s", str(secret), str(link))  # planted by bob himself
    assert done.returncode == 0, done.stderr
    with pytest.raises(OperationError) as refused:
        await agents.call("bob", "files.read", {"path": spelling.format(home=ALICE_HOME)})
    assert refused.value.kind == "EACCES"


async def test_a_local_user_gets_nothing_from_alices_agent(
    agents: AgentClient, runtime: Path
) -> None:
    await agents.call("alice", "files.stat", {"path": str(ALICE_HOME)})
    path = runtime / "alice.sock"
    probe = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "try:\n s.connect(sys.argv[1])\nexcept OSError as e:\n print('refused', e.errno); sys.exit()\n"
        "try:\n s.sendall(b'\\x00\\x00\\x00\\x02{}'); data = s.recv(100)\n"
        "except OSError:\n data = b''\n"
        "print('answer', data)\n"
    )
    first = as_user("bob", "/usr/bin/python3", "-c", probe, str(path))
    assert first.stdout.startswith("refused"), "the socket file itself keeps bob out"
    # Even if the socket were opened up by mistake, the agent checks who connects.
    path.chmod(0o666)
    second = as_user("bob", "/usr/bin/python3", "-c", probe, str(path))
    assert second.stdout.strip() == "answer b''", second.stdout + second.stderr
    log = (runtime.parent / "logs" / "alice.log").read_text()
    assert '"action": "agent.connect", "outcome": "refused"' in log


async def test_a_killed_agent_is_replaced_on_the_next_call(
    agents: AgentClient, runtime: Path
) -> None:
    await agents.call("alice", "files.stat", {"path": str(ALICE_HOME)})
    (first,) = agent_pids("alice", runtime)
    os.kill(first, 9)
    wait_until(lambda: not agent_pids("alice", runtime), 10, 0.05)
    result, _ = await agents.call("alice", "files.stat", {"path": str(ALICE_HOME)})
    assert result["kind"] == "folder"
    (second,) = agent_pids("alice", runtime)
    assert second != first


async def test_an_idle_agent_exits_and_comes_back(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESTOP_AGENTS__IDLE_SECONDS", "1")
    client = AgentClient(str(runtime))
    try:
        await client.call("carol", "files.stat", {"path": "/home/carol"})
        await asyncio.to_thread(wait_until, lambda: not agent_pids("carol", runtime), 15, 0.05)
        result, _ = await client.call("carol", "files.stat", {"path": "/home/carol"})
        assert result["kind"] == "folder"
    finally:
        client.close()


async def test_the_agent_runs_as_the_person_with_their_groups(
    agents: AgentClient, runtime: Path
) -> None:
    await agents.call("alice", "files.stat", {"path": str(ALICE_HOME)})
    (pid,) = agent_pids("alice", runtime)
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uids = fields["Uid"].split()
    assert set(uids) == {str(pwd.getpwnam("alice").pw_uid)}
    groups = {int(g) for g in fields["Groups"].split()}
    assert 0 not in groups and os.getgrouplist("alice", pwd.getpwnam("alice").pw_gid)
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"HOME=/home/alice" in environ and not any(e.startswith(b"SUDO_") for e in environ)
    assert os.readlink(f"/proc/{pid}/cwd") == "/home/alice"
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert (
        "Max address space" in limits
        and "unlimited" not in limits.split("Max address space")[1].splitlines()[0]
    )
    assert os.getpriority(os.PRIO_PROCESS, pid) >= 10


async def test_jobs_are_submitted_as_the_person(agents: AgentClient) -> None:
    result, _ = await agents.call(
        "alice", "jobs.submit", {"script": "#!/bin/bash\nsleep 30\n", "name": "agent-test"}
    )
    job_id = result["job_id"]
    try:
        owner = subprocess.run(
            ["squeue", "--noheader", "--format=%u", "--jobs", job_id],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert owner == "alice"
        with pytest.raises(OperationError):
            await agents.call("bob", "jobs.cancel", {"job_id": job_id})  # Slurm says no
        await agents.call("alice", "jobs.cancel", {"job_id": job_id})
    finally:
        subprocess.run(["scancel", job_id], check=False)


async def test_the_heavy_cap_is_per_person(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESTOP_AGENTS__HEAVY_LIMIT", "2")
    alice, bob = AgentClient(str(runtime)), AgentClient(str(runtime))
    try:
        await alice.call("alice", "files.stat", {"path": str(ALICE_HOME)})
        await bob.call("bob", "files.stat", {"path": "/home/bob"})
        heavy = [alice.call("alice", "agent.sleep", {"seconds": 1.5}) for _ in range(3)]
        light = bob.call("bob", "agent.sleep", {"seconds": 0.2})
        outcomes = await asyncio.gather(*heavy, light, return_exceptions=True)
        refused = [o for o in outcomes[:3] if isinstance(o, OperationError)]
        assert len(refused) == 1 and refused[0].kind == "busy"
        assert "large operations running" in refused[0].message
        assert not isinstance(outcomes[3], BaseException), "bob is not affected"
    finally:
        alice.close()
        bob.close()


def test_the_launcher_refuses_bad_names_and_system_accounts(runtime: Path) -> None:
    onestop = str(Path(os.sys.executable).with_name("onestop"))  # type: ignore[attr-defined]
    for name, words in [
        ("root", "system account"),
        ("../etc", "not an acceptable"),
        ("nosuchuser", "no account"),
        ("mallory", "no account"),
    ]:
        done = subprocess.run([onestop, "agent-launch", name], capture_output=True, text=True)
        assert done.returncode == 2 and words in done.stderr, (name, done.stderr)
    assert not list(runtime.glob("*.sock")) if runtime.exists() else True


def test_the_launcher_socket_is_root_owned_and_private(agents: AgentClient, runtime: Path) -> None:
    asyncio.run(agents.call("alice", "files.stat", {"path": str(ALICE_HOME)}))
    info = (runtime / "alice.sock").stat()
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o600
    assert runtime.stat().st_uid == 0
    assert socket  # the module is used by the probe above


def test_the_launcher_refuses_folders_others_could_change(tmp_path: Path) -> None:
    onestop = str(Path(os.sys.executable).with_name("onestop"))  # type: ignore[attr-defined]
    shared = Path("/run/onestop-test") / f"open-{os.getpid()}"
    shared.mkdir(parents=True, exist_ok=True)
    shared.chmod(0o777)  # anyone could plant links here
    try:
        env = {**os.environ, "ONESTOP_AGENTS__RUNTIME_DIR": str(shared / "agents")}
        done = subprocess.run(
            [onestop, "agent-launch", "alice"], capture_output=True, text=True, env=env
        )
        assert done.returncode == 2 and "writable by root alone" in done.stderr
    finally:
        import shutil

        shutil.rmtree(shared, ignore_errors=True)


def test_root_never_runs_code_from_the_callers_folder(
    agents: AgentClient, runtime: Path, tmp_path: Path
) -> None:
    shadow = tmp_path / "managers" / "agent"
    shadow.mkdir(parents=True)
    marker = tmp_path / "shadow-ran"
    (tmp_path / "managers" / "__init__.py").write_text("")
    (shadow / "__init__.py").write_text("")
    (shadow / "boot.py").write_text(f"open({str(marker)!r}, 'w').write('root ran me')\n")
    onestop = str(Path(os.sys.executable).with_name("onestop"))  # type: ignore[attr-defined]
    done = subprocess.run(
        [onestop, "agent-launch", "carol"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    wait_until(lambda: bool(agent_pids("carol", runtime)), 10, 0.05)
    assert not marker.exists()


async def test_a_named_pipe_is_refused_not_waited_on(agents: AgentClient) -> None:
    fifo = ALICE_HOME / "a-pipe"
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    os.chown(fifo, 2001, 2001)
    try:
        with pytest.raises(OperationError) as refused:
            await asyncio.wait_for(agents.call("alice", "files.read", {"path": str(fifo)}), 10)
        assert refused.value.kind == "ENOTREG"
    finally:
        fifo.unlink()


def test_the_agent_keeps_nothing_of_its_launcher_open(runtime: Path) -> None:
    """A caller waiting for the launcher's output must get its end of file."""
    onestop = str(Path(os.sys.executable).with_name("onestop"))  # type: ignore[attr-defined]
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [onestop, "agent-launch", "carol"], pass_fds=(write_end,), stdout=subprocess.DEVNULL
        )
        os.close(write_end)
        assert process.wait(30) == 0
        wait_until(lambda: bool(agent_pids("carol", runtime)), 10, 0.05)
        ready, _, _ = __import__("select").select([read_end], [], [], 5)
        assert ready and os.read(read_end, 1) == b"", "the agent still holds the pipe"
    finally:
        os.close(read_end)
