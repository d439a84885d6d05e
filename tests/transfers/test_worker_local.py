"""The worker end to end as alice, against a small aiohttp server on loopback
(opened for these tests only, with ``allowed_ranges``), started through the agent's
own ``data.start`` run as her."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from managers.data.spec import (
    Direction,
    NetworkRules,
    S3Endpoint,
    TransferSpec,
    UrlEndpoint,
    UrlItem,
    to_wire,
)

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python")
ALICE = pwd.getpwnam("alice")
BODY = os.urandom(3 * 2**20 + 12345)
SHA = hashlib.sha256(BODY).hexdigest()

START = """
import json, sys
from managers.data.operations import start
print(json.dumps(start(json.loads(sys.stdin.read()), None)))
"""
CALL = """
import json, sys
from managers.data import operations
name, arguments = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps(getattr(operations, name)(**arguments)))
"""


def as_alice(*args: str, input: str | None = None) -> str:
    done = subprocess.run(
        ["runuser", "-u", "alice", "--", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Server:
    """Files served the ways the worker must cope with; ``drops`` counts the
    connections cut mid-file."""

    def __init__(self) -> None:
        self.port = 0
        self.drops = 0
        self.ranges: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    async def file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=BODY,
            headers={"ETag": '"v1"', "Content-Disposition": 'attachment; filename="data.bin"'},
        )

    async def drop(self, request: web.Request) -> web.StreamResponse:
        headers = {"ETag": '"v1"', "Accept-Ranges": "bytes"}
        wanted = request.headers.get("Range")
        if wanted and request.headers.get("If-Range") == '"v1"':
            self.ranges.append(wanted)
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            headers["Content-Range"] = f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"
            return web.Response(status=206, body=BODY[start:], headers=headers)
        response = web.StreamResponse(headers=headers)
        response.content_length = len(BODY)
        await response.prepare(request)
        await response.write(BODY[: len(BODY) // 3])
        self.drops += 1
        assert request.transport is not None
        request.transport.close()  # the connection dies a third of the way in
        return response

    async def slow(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 100 * 2**20
        await response.prepare(request)
        for _ in range(600):
            await response.write(b"x" * 65536)
            await asyncio.sleep(0.05)
        return response

    async def s3(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(4)  # long enough to look at the worker while it runs
        return web.Response(status=403, text="no")

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/files/{name}", self.file)
        app.router.add_get("/drop.bin", self.drop)
        app.router.add_get("/slow.bin", self.slow)
        app.router.add_route("*", "/{tail:.*}", self.s3)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    serving = Server()
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    serving.ready.wait(10)
    yield serving
    serving.loop.call_soon_threadsafe(serving.loop.stop)
    thread.join(10)


@pytest.fixture
def target() -> Iterator[Path]:
    folder = Path(ALICE.pw_dir) / "worker-tests" / secrets.token_hex(4)
    as_alice("mkdir", "-p", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def spec_for(source: Any, target: Path) -> TransferSpec:
    return TransferSpec(
        id=secrets.token_hex(8),
        owner="alice",
        direction=Direction.IMPORT,
        source=source,
        local_path=str(target),
        network=NetworkRules(allowed_ranges=("127.0.0.0/8",)),
    )


def folder_of(spec: TransferSpec) -> Path:
    return Path(ALICE.pw_dir) / ".onestop" / "transfers" / spec.id


def start(spec: TransferSpec) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(
        as_alice(PYTHON, "-c", START, input=json.dumps(to_wire(spec)))
    )
    return answer


def wait(spec: TransferSpec, seconds: float = 60, until: str = "final") -> dict[str, Any]:
    path = folder_of(spec) / "progress.json"
    deadline = time.monotonic() + seconds
    progress: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if path.exists():
            progress = json.loads(path.read_text())
            if until == "final" and progress["state"] in ("done", "failed", "cancelled"):
                return progress
            if until == "bytes" and progress["bytes_done"] > 0:
                return progress
        time.sleep(0.1)
    raise AssertionError(f"no end in {seconds} s: {progress}")


def hers(path: Path) -> None:
    info = path.lstat()
    assert (info.st_uid, info.st_gid) == (ALICE.pw_uid, ALICE.pw_gid), path


def test_import_is_byte_identical_and_hers(server: Server, target: Path) -> None:
    url = f"http://127.0.0.1:{server.port}/files/x?signed=1"
    spec = spec_for(UrlEndpoint(items=(UrlItem(url=url, sha256=SHA),)), target)
    started = start(spec)
    assert isinstance(started["pid"], int) and started["host"]
    progress = wait(spec)
    assert progress["state"] == "done", progress
    assert progress["verified"] is True
    assert progress["results"] == ["data.bin"]
    assert progress["bytes_done"] == len(BODY) == progress["bytes_total"]
    result = target / "data.bin"
    assert hashlib.sha256(result.read_bytes()).hexdigest() == SHA
    hers(result)
    assert sorted(os.listdir(target)) == ["data.bin"]  # no partial left
    assert not (folder_of(spec) / "spec.json").exists()
    # the agent's view: the report, and a worker no longer alive
    report = json.loads(as_alice(PYTHON, "-c", CALL, "progress", json.dumps({"ids": [spec.id]})))
    assert report[spec.id]["progress"]["state"] == "done"
    assert report[spec.id]["alive"] is False
    forgot = json.loads(as_alice(PYTHON, "-c", CALL, "forget", json.dumps({"id": spec.id})))
    assert forgot["removed"] is True and not folder_of(spec).exists()


def test_wrong_sha256_keeps_nothing(server: Server, target: Path) -> None:
    url = f"http://127.0.0.1:{server.port}/files/x"
    spec = spec_for(UrlEndpoint(items=(UrlItem(url=url, sha256="0" * 64),)), target)
    start(spec)
    progress = wait(spec)
    assert progress["state"] == "failed" and "SHA-256" in progress["message"]
    assert os.listdir(target) == []


def test_dropped_connection_is_resumed_with_range(server: Server, target: Path) -> None:
    url = f"http://127.0.0.1:{server.port}/drop.bin"
    spec = spec_for(UrlEndpoint(items=(UrlItem(url=url, sha256=SHA),)), target)
    before = server.drops
    start(spec)
    progress = wait(spec)
    assert progress["state"] == "done", progress
    assert server.drops == before + 1
    # Resumed, not started again: from where her file ended, which is at most what the
    # server sent before it dropped (bytes still in the client's buffer when the drop
    # is seen are discarded by aiohttp and asked for again).
    resumed = re.fullmatch(r"bytes=(\d+)-", server.ranges[-1])
    assert resumed is not None, server.ranges
    assert 0 < int(resumed.group(1)) <= len(BODY) // 3, server.ranges[-1]
    assert hashlib.sha256((target / "drop.bin").read_bytes()).hexdigest() == SHA


def test_loopback_refused_without_the_range(server: Server, target: Path) -> None:
    url = f"http://127.0.0.1:{server.port}/files/x"
    spec = spec_for(UrlEndpoint(items=(UrlItem(url=url),)), target).model_copy(
        update={"network": NetworkRules()}
    )
    start(spec)
    progress = wait(spec)
    assert progress["state"] == "failed"
    assert progress["error"] == "refused_address"
    assert "loopback" in progress["message"]
    assert os.listdir(target) == []


def test_cancel_leaves_no_partial(server: Server, target: Path) -> None:
    url = f"http://127.0.0.1:{server.port}/slow.bin"
    spec = spec_for(UrlEndpoint(items=(UrlItem(url=url),)), target)
    start(spec)
    wait(spec, until="bytes")
    assert any(name.endswith(".partial") for name in os.listdir(target))
    as_alice(PYTHON, "-c", CALL, "cancel", json.dumps({"id": spec.id, "job_id": None}))
    progress = wait(spec, seconds=20)
    assert progress["state"] == "cancelled"
    assert os.listdir(target) == []


def test_secrets_stay_out_of_argv_environ_and_log(server: Server, target: Path) -> None:
    access, secret = "AKIA" + secrets.token_hex(8), secrets.token_urlsafe(24)
    endpoint = S3Endpoint(
        endpoint_url=f"http://127.0.0.1:{server.port}",
        bucket="bucket",
        prefix="data/",
        access_key=access,  # type: ignore[arg-type]
        secret_key=secret,  # type: ignore[arg-type]
    )
    spec = spec_for(endpoint, target)
    started = start(spec)
    pid = started["pid"]
    time.sleep(1.0)
    seen = b""
    for name in ("cmdline", "environ"):
        try:
            seen += Path(f"/proc/{pid}/{name}").read_bytes()
        except OSError:
            pass
    assert b"managers.data.worker" in seen  # still running: the look was real
    progress = wait(spec)
    assert progress["state"] == "failed"
    folder = folder_of(spec)
    assert not (folder / "spec.json").exists()
    for value in (access, secret):
        assert value.encode() not in seen
        for path in folder.iterdir():
            assert value.encode() not in path.read_bytes(), path.name
