"""Transfers through the portal against the same work done without it, in one run.

Starts its own portal (agents of its own, so they run this checkout's code) and its
own nginx (Debian's, on a loopback port with a temporary config; never the system
service), signs alice in, and measures with a 1 GiB file of hers, warm in the page
cache:

- download: the portal (descriptor from her agent, Range-capable streaming) vs nginx
  with sendfile serving the same file; both fetched by ``curl -o /dev/null``.
  Target: >= 0.9x.
- upload: one streamed PATCH through the portal (tus, no checksum) vs ``cp`` of the
  same file on the same disk. Target: >= 0.8x.
- resumable: the checked path as the upload page sends it (pieces of
  ``files.chunk_bytes``, each with its CRC-32 checked before it counts, and the
  whole file's SHA-256 computed by the portal as the bytes pass and compared with
  the client's before the file gets its name) vs that single streamed PATCH.
  Target: >= 0.8x. Also shown: pieces checked with SHA-256 each (the page's former
  way, no whole-file check), and the streamed PATCH with the whole-file check. The
  client's own hashing is done before the clock starts (a browser does it on the
  person's machine, not on the login node).

Every upload goes to a name that is not there yet (the last round's copy is removed
before the clock starts), as ``cp`` does: freeing a 1 GiB file is the file system's
work, not the transfer's.

The client is a few lines of HTTP/1.1 over a socket sending the body with
``sendfile``, so it costs the shared CPUs as little as possible. ``--big-gb 5``
(the default) then uploads a 5 GB file by the checked path, killing the portal
half-way and resuming after its restart, and checks the result's SHA-256.

    .venv/bin/python -m loadtests.bench_transfer [--size-mb 1024] [--big-gb 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import ONESTOP, portal_env, start_portal_process
from tests.helpers import new_client, sign_in

# The demo identity provider accepts portals on 8001-8019.
PORT = int(os.environ.get("BENCH_PORTAL_PORT", "8018"))
NGINX_PORT = 8918
URL = f"http://127.0.0.1:{PORT}"
FOLDER = Path("/home/alice/bench-transfer")
ALICE = 2001
MiB = 1024 * 1024


# --- a minimal HTTP/1.1 client ----------------------------------------------------------


class Connection:
    """One keep-alive connection; bodies go out with sendfile straight from a file."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: tuple[int, int, int] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """``body`` is (fd, offset, count) of a file; returns status, headers, body."""
        count = body[2] if body else 0
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{PORT}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        lines.append(f"Content-Length: {count}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        if body:
            fd, offset, left = body
            while left:
                sent = os.sendfile(self.sock.fileno(), fd, offset, min(left, 64 * MiB))
                offset, left = offset + sent, left - sent
        return self._response()

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        content, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, content

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data


# --- setup ---------------------------------------------------------------------------


@contextlib.contextmanager
def portal(workdir: Path, chunk: int = 32 * MiB) -> Iterator[dict[str, str]]:
    runtime = Path("/run/onestop-test") / f"bench-{uuid.uuid4().hex[:8]}"
    env = portal_env(
        f"sqlite:///{workdir}/bench.db",
        PORT,
        ONESTOP_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        ONESTOP_AGENTS__RUNTIME_DIR=str(runtime / "agents"),
        ONESTOP_AGENTS__LOG_DIR=str(runtime / "logs"),
        ONESTOP_FILES__MAX_UPLOAD_BYTES=str(64 * 1024 * MiB),
        ONESTOP_FILES__CHUNK_BYTES=str(chunk),
    )
    subprocess.run([ONESTOP, "db", "upgrade"], env=env, check=True, capture_output=True)
    env["pid"] = str(start_portal_process(env, workdir / "portal.log").pid)
    try:
        yield env
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(env["pid"]), signal.SIGTERM)
        time.sleep(1)
        found = subprocess.run(
            ["fuser", *map(str, (runtime / "agents").glob("*.sock"))],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        for pid in found:
            if pid.isdigit():
                os.kill(int(pid), signal.SIGKILL)
        if os.environ.get("BENCH_KEEP"):
            print("kept", runtime, workdir)
        else:
            shutil.rmtree(runtime, ignore_errors=True)


def restart(env: dict[str, str], workdir: Path) -> None:
    """Kill the portal without warning and start it again."""
    os.kill(int(env["pid"]), signal.SIGKILL)
    time.sleep(0.5)
    env["pid"] = str(start_portal_process(env, workdir / "portal.log").pid)


@contextlib.contextmanager
def nginx(workdir: Path, served: Path) -> Iterator[str]:
    """Debian's nginx on a loopback port, serving ``served`` with sendfile."""
    config = workdir / "nginx.conf"
    config.write_text(
        f"""
daemon off;
master_process on;
worker_processes 1;
user root;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    types {{ }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{NGINX_PORT};
        location / {{ root {served.parent}; }}
    }}
}}
"""
    )
    process = subprocess.Popen(["nginx", "-c", str(config), "-p", str(workdir)])
    try:
        for _ in range(50):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", NGINX_PORT), timeout=1).close()
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{NGINX_PORT}/{served.name}"
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(10)


def make_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 64 * MiB))
            out.write(block)
            left -= len(block)
    os.chown(path, ALICE, ALICE)


def warm(path: Path) -> None:
    with path.open("rb") as source:
        while source.read(64 * MiB):
            pass


def signed_in() -> tuple[str, str]:
    """Alice's session cookie and CSRF token."""
    with new_client() as client:
        sign_in(client, URL, "alice")
        page = client.get(URL + "/files/upload")
        token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        return client.cookies["onestop_session"], token


# --- measurements ----------------------------------------------------------------------


def curl_seconds(url: str, cookie: str = "") -> float:
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: onestop_session={cookie}"]
    status, seconds = subprocess.run(
        command, capture_output=True, text=True, check=True
    ).stdout.split()
    if status not in ("200", "206"):
        raise SystemExit(f"download answered {status}")
    return float(seconds)


def create(cookie: str, token: str, name: str, size: int, whole: bool = False) -> str:
    pairs = [("filename", name), ("folder", str(FOLDER)), ("conflict", "replace")]
    if whole:
        pairs.append(("checksum", "sha256"))
    meta = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs)
    (FOLDER / name).unlink(missing_ok=True)  # see the module's docstring
    connection = Connection(URL)
    try:
        status, headers, body = connection.request(
            "POST",
            "/files/uploads",
            {
                "Cookie": f"onestop_session={cookie}",
                "X-CSRF-Token": token,
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(size),
                "Upload-Metadata": meta,
            },
        )
    finally:
        connection.close()
    if status != 201:
        raise SystemExit(f"creating the upload answered {status}: {body.decode()}")
    return headers["location"]


def patch_headers(cookie: str, token: str, offset: int) -> dict[str, str]:
    return {
        "Cookie": f"onestop_session={cookie}",
        "X-CSRF-Token": token,
        "Tus-Resumable": "1.0.0",
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": str(offset),
    }


def repr_digest(source: Path) -> str:
    """The whole file's SHA-256 as the last piece's ``Repr-Digest`` field carries it."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_of(source))).decode()}:"


def streamed_upload(cookie: str, token: str, source: Path, whole: str = "") -> float:
    size = source.stat().st_size
    location = create(cookie, token, "streamed.bin", size, whole=bool(whole))
    headers = patch_headers(cookie, token, 0)
    if whole:
        headers["Repr-Digest"] = whole
    connection = Connection(URL)
    with source.open("rb") as data:
        started = time.perf_counter()
        status, _, body = connection.request("PATCH", location, headers, (data.fileno(), 0, size))
        seconds = time.perf_counter() - started
    connection.close()
    if status != 204:
        raise SystemExit(f"the streamed upload answered {status}: {body.decode()}")
    return seconds


def checksums(source: Path, chunk: int, algorithm: str = "sha256") -> list[str]:
    """``algorithm value`` for each piece, as the Upload-Checksum header wants it."""
    sums = []
    with source.open("rb") as data:
        while piece := data.read(chunk):
            if algorithm == "crc32":
                raw = zlib.crc32(piece).to_bytes(4, "big")
            else:
                raw = hashlib.new(algorithm, piece).digest()
            sums.append(f"{algorithm} {base64.b64encode(raw).decode()}")
    return sums


def checked_upload(
    cookie: str,
    token: str,
    source: Path,
    chunk: int,
    sums: list[str],
    name: str = "checked.bin",
    stop_after: int | None = None,
    location: str = "",
    start: int = 0,
    whole: str = "",
) -> tuple[float, str, int]:
    """Seconds taken, the upload's address, and the offset reached; ``whole`` is the
    ``Repr-Digest`` the last piece carries (and asks for the whole-file check)."""
    size = source.stat().st_size
    location = location or create(cookie, token, name, size, whole=bool(whole))
    connection = Connection(URL)
    offset = start
    pieces = 0
    with source.open("rb") as data:
        started = time.perf_counter()
        while offset < size:
            if stop_after is not None and pieces == stop_after:
                break
            count = min(chunk, size - offset)
            headers = patch_headers(cookie, token, offset)
            if sums[offset // chunk]:  # "" sends the piece unchecked
                headers["Upload-Checksum"] = sums[offset // chunk]
            if whole and offset + count == size:
                headers["Repr-Digest"] = whole
            status, answer, body = connection.request(
                "PATCH", location, headers, (data.fileno(), offset, count)
            )
            if status != 204:
                raise SystemExit(f"a checked piece answered {status}: {body.decode()}")
            offset = int(answer["upload-offset"])
            pieces += 1
        seconds = time.perf_counter() - started
    connection.close()
    return seconds, location, offset


def remote_offset(cookie: str, location: str) -> int:
    connection = Connection(URL)
    try:
        status, headers, _ = connection.request(
            "HEAD", location, {"Cookie": f"onestop_session={cookie}", "Tus-Resumable": "1.0.0"}
        )
    finally:
        connection.close()
    if status != 200:
        raise SystemExit(f"asking for the offset answered {status}")
    return int(headers["upload-offset"])


def cp_seconds(source: Path) -> float:
    target = FOLDER / "cp-copy.bin"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while block := data.read(16 * MiB):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--big-gb", type=float, default=5.0, help="0 skips the big upload")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-mb", type=int, default=32)
    options = parser.parse_args()
    size = options.size_mb * MiB
    chunk = options.chunk_mb * MiB
    FOLDER.mkdir(exist_ok=True)
    os.chown(FOLDER, ALICE, ALICE)
    FOLDER.chmod(0o755)
    for stale in FOLDER.glob(".onestop-upload-*.part"):  # from an interrupted run
        stale.unlink()
    source = FOLDER / f"source-{options.size_mb}m.bin"
    make_file(source, size)
    warm(source)
    gib = size / (1024 * MiB)
    with (
        tempfile.TemporaryDirectory(prefix="bench-transfer-") as temporary,
        portal(Path(temporary), chunk) as env,
        nginx(Path(temporary), source) as nginx_url,
    ):
        cookie, token = signed_in()
        download_url = f"{URL}/files/download?path={source}"
        curl_seconds(download_url, cookie)  # her agent starts; the first read warms
        curl_seconds(nginx_url)
        through_nginx, through_portal = [], []
        for _ in range(options.rounds):
            through_nginx.append(curl_seconds(nginx_url))
            through_portal.append(curl_seconds(download_url, cookie))
        copies, streamed, checked, sha_pieces, streamed_whole = [], [], [], [], []
        sums = checksums(source, chunk)
        crc_sums = checksums(source, chunk, "crc32")
        whole = repr_digest(source)
        for _ in range(options.rounds):
            os.sync()  # each starts without the last one's writeback still going
            copies.append(cp_seconds(source))
            os.sync()
            streamed.append(streamed_upload(cookie, token, source))
            os.sync()
            checked.append(checked_upload(cookie, token, source, chunk, crc_sums, whole=whole)[0])
            os.sync()
            sha_pieces.append(checked_upload(cookie, token, source, chunk, sums, "sha.bin")[0])
            os.sync()
            streamed_whole.append(streamed_upload(cookie, token, source, whole))
        for name in ("streamed.bin", "checked.bin", "sha.bin"):
            if sha256_of(FOLDER / name) != sha256_of(source):
                raise SystemExit(f"{name} differs from the source")
            (FOLDER / name).unlink()

        def rate(seconds: list[float]) -> float:
            return float(gib / statistics.median(seconds))

        print(f"{options.size_mb} MiB file, warm, median of {options.rounds} rounds (GiB/s)")
        nginx_rate, portal_rate = rate(through_nginx), rate(through_portal)
        print(f"download  nginx sendfile   {nginx_rate:6.2f}")
        print(
            f"download  portal           {portal_rate:6.2f}   "
            f"ratio {portal_rate / nginx_rate:.2f}x (target >= 0.9x)"
        )
        cp_rate, streamed_rate, checked_rate = rate(copies), rate(streamed), rate(checked)
        print(f"upload    cp               {cp_rate:6.2f}")
        print(
            f"upload    portal streamed  {streamed_rate:6.2f}   "
            f"ratio {streamed_rate / cp_rate:.2f}x of cp (target >= 0.8x)"
        )
        print(
            f"upload    portal checked   {checked_rate:6.2f}   "
            f"ratio {checked_rate / streamed_rate:.2f}x of streamed (target >= 0.8x), "
            f"{options.chunk_mb} MiB pieces with CRC-32, whole file SHA-256"
        )
        sha_rate = rate(sha_pieces)
        print(
            f"upload    portal sha256    {sha_rate:6.2f}   "
            f"ratio {sha_rate / streamed_rate:.2f}x of streamed (pieces with SHA-256 each, "
            "no whole-file check)"
        )
        whole_rate = rate(streamed_whole)
        print(
            f"upload    streamed+sha256  {whole_rate:6.2f}   "
            f"ratio {whole_rate / streamed_rate:.2f}x of streamed (one PATCH, whole-file "
            f"check); checked is {checked_rate / whole_rate:.2f}x of it"
        )
        if options.big_gb > 0:
            big_upload(Path(temporary), env, cookie, token, int(options.big_gb * 1e9), chunk)


def big_upload(
    workdir: Path, env: dict[str, str], cookie: str, token: str, size: int, chunk: int
) -> None:
    """The issue's 5 GB: checked pieces, the portal killed half-way, resumed."""
    source = FOLDER / f"source-{size}.bin"
    make_file(source, size)
    sums = checksums(source, chunk, "crc32")
    expected = sha256_of(source)
    whole = repr_digest(source)
    half = (size // chunk) // 2
    first, location, _ = checked_upload(
        cookie, token, source, chunk, sums, name="big.bin", stop_after=half, whole=whole
    )
    if (FOLDER / "big.bin").exists() or not list(FOLDER.glob(".onestop-upload-*.part")):
        raise SystemExit("half-way, the file must be a hidden part file only")
    restart(env, workdir)
    offset = remote_offset(cookie, location)
    second, _, _ = checked_upload(
        cookie, token, source, chunk, sums, location=location, start=offset, whole=whole
    )
    final = FOLDER / "big.bin"
    same = sha256_of(final) == expected
    print(
        f"big       {size / 1e9:.1f} GB checked upload: {size / (first + second) / 1e9:.2f} GB/s, "
        f"portal killed at {offset / 1e9:.2f} GB and resumed there (its whole-file digest "
        f"read back from the part file); SHA-256 {'matches' if same else 'DIFFERS'}"
    )
    final.unlink()
    source.unlink()
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
