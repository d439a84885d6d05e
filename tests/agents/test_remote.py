"""The agent protocol between login nodes: TLS with mutual certificates.

The gateway runs as its own process (``onestop agent-gateway``), standing in for
the other login node; this test process stands in for the portal on the first.
Its agents are real, started by the real launcher in the test's runtime folder.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from managers.agent.client import AgentUnavailable
from managers.agent.remote import RemoteAgentClient
from managers.agent.tls import DevCertificates, client_context, make_dev_certificates
from managers.errors import OperationError
from tests.helpers import LOG_KEYS, wait_until

ONESTOP = str(Path(sys.executable).with_name("onestop"))
CLIENT = "portal-node-1"
ALICE = pwd.getpwnam("alice")


@dataclass
class Gateway:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def records(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().split("\n")[:-1]  # complete lines only
        return [json.loads(line) for line in lines if line.startswith("{")]

    def calls(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["event"] == "gateway.call"]


@pytest.fixture
def pki(tmp_path: Path) -> DevCertificates:
    return make_dev_certificates(tmp_path / "pki", client_names=(CLIENT,))


@pytest.fixture
def rogue(tmp_path: Path) -> DevCertificates:
    """Another CA with a client certificate of the very same name: the name is not enough."""
    return make_dev_certificates(tmp_path / "rogue", client_names=(CLIENT,))


@pytest.fixture
def gateway(runtime: Path, pki: DevCertificates, tmp_path: Path) -> Iterator[Gateway]:
    """``onestop agent-gateway`` on a free loopback port (port 0; read from its log).
    It inherits the ``runtime`` fixture's environment, so its agents live there."""
    log = tmp_path / "gateway.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                ONESTOP,
                "agent-gateway",
                "--listen",
                "127.0.0.1:0",
                "--cert",
                str(pki.server_cert),
                "--key",
                str(pki.server_key),
                "--ca",
                str(pki.ca_cert),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    started = Gateway(0, log, process)

    def listening_port() -> int:
        if process.poll() is not None:
            raise AssertionError(f"the gateway did not start:\n{log.read_text()}")
        ports = [r["port"] for r in started.records() if r["event"] == "gateway.listening"]
        return int(ports[0]) if ports else 0

    try:
        started.port = wait_until(listening_port, 30, 0.05)
        yield started
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def remote(gateway: Gateway, pki: DevCertificates) -> Iterator[RemoteAgentClient]:
    cert, key = pki.clients[CLIENT]
    client = RemoteAgentClient(
        "127.0.0.1",
        gateway.port,
        client_context(str(cert), str(key), str(pki.ca_cert)),
        timeout=30,
        connect_timeout=5,
    )
    yield client
    client.close()


def read_all(fd: int) -> bytes:
    """Exactly as a caller reads a local descriptor from ``files.read``."""
    data = bytearray()
    try:
        while chunk := os.read(fd, 1 << 20):
            data += chunk
    finally:
        os.close(fd)
    return bytes(data)


async def test_a_verb_runs_on_the_other_node_as_the_person(
    remote: RemoteAgentClient, gateway: Gateway
) -> None:
    result, fds = await remote.call("alice", "files.stat", {"path": ALICE.pw_dir})
    assert fds == []
    assert result["kind"] == "folder" and result["uid"] == ALICE.pw_uid
    for _ in range(3):
        await remote.call("alice", "files.stat", {"path": ALICE.pw_dir})
    accepted = [r for r in gateway.records() if r.get("outcome") == "accepted"]
    assert [r["client"] for r in accepted] == [CLIENT], "one connection, reused"
    wait_until(lambda: len(gateway.calls()) == 4, 10, 0.05)  # logged just after the reply is sent
    calls = gateway.calls()
    assert {(c["user"], c["op"], c["outcome"]) for c in calls} == {("alice", "files.stat", "ok")}


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every complete line of ``log``, each of which must be one JSON object."""
    lines = log.read_text().split("\n")[:-1]
    assert lines, f"{log} is empty"
    return [json.loads(line) for line in lines]


async def test_the_gateways_and_the_agents_logs_are_the_portals_json_lines(
    remote: RemoteAgentClient, gateway: Gateway, runtime: Path
) -> None:
    """The keys the portal's lines have too (tests/app/test_signin_http.py checks those)."""
    await remote.call("alice", "files.stat", {"path": ALICE.pw_dir})
    wait_until(lambda: gateway.calls(), 10, 0.05)  # logged just after the reply is sent
    loggers = {}
    for log in (gateway.log, runtime.parent / "logs" / "alice.log"):
        for record in json_lines(log):
            assert LOG_KEYS <= record.keys(), f"{log}: {record}"
            loggers[record["event"]] = record["logger"]
    assert loggers["gateway.listening"] == loggers["gateway.call"] == "onestop.gateway"
    assert loggers["agent.started"] == "onestop.agent"


async def test_a_written_file_comes_back_through_a_descriptor(remote: RemoteAgentClient) -> None:
    target = Path(ALICE.pw_dir) / f"remote-{uuid.uuid4().hex[:8]}.txt"
    # Larger than two chunks, so the stream has several frames and a short last one.
    content = "".join(f"line {n:07d} of alice's remote file\n" for n in range(20_000))
    try:
        written, _ = await remote.call(
            "alice", "files.write", {"path": str(target), "content": content}
        )
        assert written["uid"] == ALICE.pw_uid and target.stat().st_uid == ALICE.pw_uid
        result, fds = await remote.call("alice", "files.read", {"path": str(target)})
        assert len(fds) == 1 and result == {"fd": 0}
        assert read_all(fds[0]) == content.encode()
        body, fds = await remote.call_raw("alice", "files.read", {"path": str(target)})
        assert json.loads(body)["ok"] and read_all(fds[0]) == content.encode()
    finally:
        target.unlink(missing_ok=True)


async def test_a_reader_that_gives_up_early_costs_only_its_connection(
    remote: RemoteAgentClient, gateway: Gateway
) -> None:
    target = Path(ALICE.pw_dir) / f"remote-{uuid.uuid4().hex[:8]}.txt"
    try:
        await remote.call("alice", "files.write", {"path": str(target), "content": "x" * 4_000_000})
        _, (fd,) = await remote.call("alice", "files.read", {"path": str(target)})
        assert os.read(fd, 10) == b"x" * 10
        os.close(fd)  # the feeding thread meets a broken pipe and drops the connection
        result, _ = await remote.call("alice", "files.stat", {"path": str(target)})
        assert result["size"] == 4_000_000
    finally:
        target.unlink(missing_ok=True)
    accepted = [r for r in gateway.records() if r.get("outcome") == "accepted"]
    assert len(accepted) == 2, "the abandoned stream's connection was not reused"
    wait_until(lambda: len(gateway.calls()) == 3, 10, 0.05)
    # "undelivered" if the gateway was still sending; "ok" if all of it was in buffers
    assert {c["outcome"] for c in gateway.calls()} <= {"ok", "undelivered"}


async def test_the_kernel_still_says_no_to_bob(remote: RemoteAgentClient, gateway: Gateway) -> None:
    secret = Path(ALICE.pw_dir) / "remote-secret.txt"
    secret.write_text("alice's secret\n")
    os.chown(secret, ALICE.pw_uid, ALICE.pw_gid)
    secret.chmod(0o600)
    try:
        with pytest.raises(OperationError) as refused:
            await remote.call("bob", "files.read", {"path": str(secret)})
        assert refused.value.kind == "EACCES"
        assert not isinstance(refused.value, AgentUnavailable)
        # The verb gate's form: the reply frame raw, the failure inside it.
        body, fds = await remote.call_raw("bob", "files.read", {"path": str(secret)})
        assert fds == [] and json.loads(body)["kind"] == "EACCES"
    finally:
        secret.unlink()
    wait_until(lambda: len(gateway.calls()) == 2, 10, 0.05)
    assert {(c["user"], c["outcome"]) for c in gateway.calls()} == {("bob", "EACCES")}


@pytest.mark.parametrize("credentials", ["rogue", "none"])
async def test_a_client_without_a_valid_certificate_gets_nothing(
    gateway: Gateway,
    pki: DevCertificates,
    rogue: DevCertificates,
    runtime: Path,
    credentials: str,
) -> None:
    if credentials == "rogue":
        cert, key = (str(path) for path in rogue.clients[CLIENT])
        context = client_context(cert, key, str(pki.ca_cert))  # it trusts the real server
    else:
        context = client_context(None, None, str(pki.ca_cert))
    stranger = RemoteAgentClient("127.0.0.1", gateway.port, context, timeout=10)
    try:
        with pytest.raises(AgentUnavailable) as refused:
            await stranger.call("carol", "files.stat", {"path": "/home/carol"})
    finally:
        stranger.close()
    assert refused.value.kind == "remote-refused"
    assert "refused this portal's connection" in refused.value.message
    # The client may hear the alert a moment before the gateway has written its line.
    wait_until(
        lambda: any(r.get("action") == "gateway.connect" for r in gateway.records()), 10, 0.05
    )
    records = gateway.records()
    refusals = [r for r in records if r.get("action") == "gateway.connect"]
    assert [r["outcome"] for r in refusals] == ["refused"] and refusals[0]["reason"]
    assert not gateway.calls(), "no request was read"
    assert not (runtime / "carol.sock").exists(), "no agent was started for carol"


async def test_the_portal_checks_the_gateway_too(
    gateway: Gateway, pki: DevCertificates, rogue: DevCertificates
) -> None:
    """A node whose certificate our CA did not sign is not told anything either."""
    cert, key = (str(path) for path in pki.clients[CLIENT])
    trusting_the_wrong_ca = client_context(cert, key, str(rogue.ca_cert))
    client = RemoteAgentClient("127.0.0.1", gateway.port, trusting_the_wrong_ca, timeout=10)
    try:
        with pytest.raises(AgentUnavailable) as refused:
            await client.call("alice", "files.stat", {"path": ALICE.pw_dir})
    finally:
        client.close()
    assert refused.value.kind == "remote-untrusted"


async def test_an_unreachable_node_is_said_plainly(gateway: Gateway, pki: DevCertificates) -> None:
    cert, key = (str(path) for path in pki.clients[CLIENT])
    gateway.process.terminate()
    gateway.process.wait(timeout=10)
    assert any(r["event"] == "gateway.stopped" for r in gateway.records())
    client = RemoteAgentClient(
        "127.0.0.1", gateway.port, client_context(cert, key, str(pki.ca_cert)), connect_timeout=5
    )
    try:
        with pytest.raises(AgentUnavailable) as refused:
            await client.call("alice", "files.stat", {"path": ALICE.pw_dir})
    finally:
        client.close()
    assert refused.value.kind == "remote-unreachable"
    assert (
        refused.value.message == f"The login node at 127.0.0.1:{gateway.port} could not be reached."
    )
