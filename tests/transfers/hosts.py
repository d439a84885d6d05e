"""The data tool's test hosts: "the outside world" in a network namespace of its own.

Issue 12 asks for real servers across a real network, never the internet. This module
builds that world once per test session:

- a network namespace (``onestop-far``) joined to this machine by a veth pair, the
  host side 198.51.100.1/24, the namespace side 198.51.100.2/24 (RFC 5737's
  documentation range, so nothing real is ever reached);
- inside it, each server a transfer can meet: Debian's nginx (HTTP and HTTPS with a
  CA made here: static files, a redirect chain, redirects to loopback, a slow
  location, Git over HTTP through ``git http-backend`` and fcgiwrap, and HTTPS in
  front of the S3 and WebDAV servers), a server that drops the connection mid-file,
  moto's S3 server, an sshd of our own (not the system's) and wsgidav;
- names in /etc/hosts for the session (``files.example.test`` and friends at
  198.51.100.2, ``loopback.example.test`` at 127.0.0.1), because the worker runs as
  alice in processes of her own (agent, Slurm job): no resolver hook in this test
  process could reach them, and /etc/hosts is what their resolver reads.

Everything listens on 198.51.100.2, so the workers reach it exactly as they would reach
a campus server: through a route, an address the guard must allow
(``allowed_ranges=["198.51.100.0/24"]``) and, for HTTPS, the CA in ``ca_file``.

One session at a time holds the world (a lock in /run/onestop-test): several
checkouts or helpers running tests side by side wait for each other instead of
tearing down each other's namespace. A previous run's leftovers (a namespace, its
processes, /etc/hosts lines, the folder) are removed first.

The few small servers that are not a Debian package (the dropping server, wsgidav's
runner) are this module's own command line: ``python -m tests.transfers.hosts``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import fcntl
import hashlib
import http.server
import io
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent

NAMESPACE = "onestop-far"
VETH_HOST = "osfar0"
VETH_FAR = "osfar1"
HOST_ADDRESS = "198.51.100.1"
ADDRESS = "198.51.100.2"
NETWORK = "198.51.100.0/24"
# Every name of the outside world points at the namespace; one certificate covers all.
NAMES = (
    "files.example.test",
    "s3.example.test",
    "dav.example.test",
    "git.example.test",
    "sftp.example.test",
)
LOOPBACK_NAME = "loopback.example.test"
HOSTS_FILE = Path("/etc/hosts")
HOSTS_MARK = "# onestop-test transfer hosts"

# The world's folder: fixed (so a crashed run's leftovers are found and removed) and
# outside /tmp/pytest-of-root (0700), so that alice's worker can read the CA file.
BASE = Path("/tmp/onestop-transfer-hosts")
LOCK = Path("/run/onestop-test/transfer-hosts.lock")
LOCK_WAIT_SECONDS = 900.0

HTTP_PORT = 80
HTTPS_PORT = 443
DROP_PORT = 8081
WEBDAV_PORT = 8080
WEBDAV_HTTPS_PORT = 8443
S3_PORT = 5000  # the public bucket's server (no signatures checked)
S3_PRIVATE_PORT = 5001  # the private bucket's server (signatures enforced)
S3_HTTPS_PORT = 9443
S3_PRIVATE_HTTPS_PORT = 9444
SSH_PORT = 22

SLOW_RATE = 256 * 1024  # bytes per second at /slow/
REDIRECT_HOPS = 3
REMOTE_USER = "farside"
S3_REGION = "us-east-1"
PUBLIC_BUCKET = "public-data"
PRIVATE_BUCKET = "private-data"
S3_PREFIX = "dataset/"
S3_MULTIPART_KEY = "big/multipart.bin"
S3_PART_SIZE = 5 * 2**20  # S3's smallest part but the last
GIT_BRANCH = "feature"
GIT_TAG = "v1.0"
BOMB_BYTES = 128 * 2**20  # what bomb.zip claims when unpacked; a few hundred KiB packed
MANY_FILES = 3000  # many.zip: empty files, for the file-count limit

__all__ = [
    "ADDRESS",
    "HOST_ADDRESS",
    "LOOPBACK_NAME",
    "NAMESPACE",
    "NETWORK",
    "TransferHosts",
    "running_hosts",
    "sha256_file",
    "ssh_fingerprint",
    "transfer_hosts",
]


# -- what the tests get ------------------------------------------------------------


@dataclass
class TransferHosts:
    """Addresses, credentials and expected contents of every test host.

    ``files`` maps each served file's path below /files/ (``"data-3m.bin"``,
    ``"folder/sub/c.txt"``, ``"archives/good.zip"``) to its SHA-256; the same bytes
    are in ``local_files`` for byte comparisons. The folder tree ``folder/`` is also
    on S3 (under ``S3_PREFIX`` in both buckets), on SFTP (``sftp_data_path``) and on
    WebDAV (``data/`` below ``webdav_url``), so one expectation serves every source.
    """

    namespace: str
    address: str  # where every server listens
    host_address: str  # this machine's side of the veth pair
    network: str  # the range a TransferSpec must allow
    hostname: str  # files.example.test
    loopback_name: str  # a name resolving to 127.0.0.1
    ca_file: str  # world-readable PEM: NetworkRules.ca_file
    base: Path
    local_files: Path
    files: dict[str, str]  # relative path -> sha256
    sizes: dict[str, int]
    # HTTP(S), nginx
    http_url: str  # http://files.example.test
    https_url: str  # https://files.example.test
    redirect_url: str  # 3 hops, http -> https, ending at redirect_target
    redirect_target: str  # the file the chain ends at (a key of ``files``)
    redirect_loop_url: str
    redirect_to_loopback_url: str  # 302 to http://127.0.0.1:<loopback_port>/secret
    redirect_to_loopback_name_url: str  # 302 to http://loopback.example.test:<port>/
    redirect_to_metadata_url: str  # 302 to http://169.254.169.254/latest/meta-data/
    slow_rate: int  # bytes/s at /slow/
    nginx_access_log: Path  # one line per request: method uri status "range" bytes
    # The mid-file dropper (a Python server): see drop_url()
    drop_base: str
    drop_log: Path
    # A listener on this machine's loopback: an SSRF test passes only if it is never hit
    loopback_port: int
    # S3 (moto)
    s3_endpoint: str  # http://s3.example.test:5000: the public bucket, anonymous
    s3_https_endpoint: str  # the same through nginx with the test CA
    s3_private_endpoint: str  # http://s3.example.test:5001: the private bucket, keys
    s3_private_https_endpoint: str
    s3_region: str
    s3_public_bucket: str  # anonymous reads and listing
    s3_private_bucket: str  # signed requests only; exports go here
    s3_access_key: str
    s3_secret_key: str
    s3_prefix: str  # "dataset/": the folder tree
    s3_objects: dict[str, str]  # key -> sha256, in both buckets but the multipart one
    s3_multipart_key: str  # public bucket only, 3 parts (ETag "...-3")
    s3_multipart_sha256: str
    # SFTP (our own sshd)
    sftp_host: str
    sftp_port: int
    sftp_user: str
    sftp_password: str
    sftp_private_key: str  # OpenSSH text, authorized for sftp_user
    sftp_public_key: str
    sftp_unauthorized_key: str  # OpenSSH text of a key the server does not know
    sftp_host_key: str  # "ssh-ed25519 AAAA...": what the server offers
    sftp_fingerprint: str  # "SHA256:...", as ssh-keygen -l prints it
    sftp_other_host_key: str  # a host key that is not the server's (a mismatch)
    sftp_home: str
    sftp_data_path: str  # the folder tree, absolute on the remote machine
    sftp_export_path: str  # writable by sftp_user
    # WebDAV (wsgidav)
    webdav_url: str  # http://dav.example.test:8080/dav (folder tree at data/)
    webdav_https_url: str  # https://dav.example.test:8443/dav
    webdav_user: str
    webdav_password: str
    webdav_root: Path  # its folder on this machine (exports land in exports/)
    webdav_share_url: str  # https://dav.example.test:8443/s/<token>, Nextcloud's form
    webdav_share_token: str  # the user name at /public.php/webdav, no password
    webdav_share_root: Path
    # Git (git http-backend behind nginx)
    git_url: str  # http://git.example.test/git/project.git
    git_https_url: str
    git_branch: str
    git_tag: str
    git_default_branch: str
    git_trees: dict[str, dict[str, str]]  # ref -> {path: sha256}, ref "" the default
    git_commits: dict[str, str]  # ref -> commit id
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    _loopback_hits: list[str] = field(default_factory=list, repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the test CA (httpx's ``verify=``)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def url(self, name: str, *, https: bool = True) -> str:
        """The URL of a served file (``name`` is a key of ``files``)."""
        return f"{self.https_url if https else self.http_url}/files/{name}"

    def slow_url(self, name: str) -> str:
        return f"{self.http_url}/slow/{name}"

    def drop_url(self, name: str = "data-3m.bin") -> str:
        """A fresh URL whose first request is cut mid-file (half the bytes, then the
        connection closes); every later request is served, with Range."""
        return f"{self.drop_base}/drop/{secrets.token_hex(6)}/{name}"

    def drop_requests(self, url: str) -> list[dict[str, Any]]:
        """What the dropping server saw for ``url``: ``{"range", "status", "sent"}``."""
        path = url.split(self.drop_base, 1)[1]
        lines = self.drop_log.read_text().splitlines() if self.drop_log.exists() else []
        seen = [json.loads(line) for line in lines]
        return [entry for entry in seen if entry["path"] == path]

    def loopback_hits(self) -> list[str]:
        """Paths requested from the loopback listener (an SSRF that got through)."""
        return list(self._loopback_hits)

    def nginx_requests(self, uri: str) -> list[str]:
        """nginx's access-log lines for ``uri`` (method uri status "range" bytes)."""
        text = self.nginx_access_log.read_text() if self.nginx_access_log.exists() else ""
        return [line for line in text.splitlines() if line.split(" ")[1:2] == [uri]]

    def processes_alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.processes.items()}


# -- small helpers -------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ssh_fingerprint(public_key: str) -> str:
    """``SHA256:<base64, no padding>`` of an OpenSSH public key line, as ssh-keygen -l
    prints it and as the worker must report an offered host key."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def run(*args: str, check: bool = True, input: bytes | None = None) -> str:
    done = subprocess.run(list(args), capture_output=True, input=input, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode(errors="replace")


def in_namespace(*args: str) -> list[str]:
    return ["ip", "netns", "exec", NAMESPACE, *args]


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 20):  # type: ignore[no-untyped-def]
    """Until ``ADDRESS:port`` accepts a connection from this machine (the host side);
    raises with the server's log if it exits or never listens."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{log.name} exited {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            socket.create_connection((ADDRESS, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{log.name} did not listen on {port}") from None
            time.sleep(0.05)


def write_private(path: Path, text: str | bytes) -> None:
    """A file only root reads (keys): created 0600 before anything is written."""
    data = text.encode() if isinstance(text, str) else text
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


# -- the network ---------------------------------------------------------------------


def namespace_exists() -> bool:
    return NAMESPACE in run("ip", "netns", "list").split()


def namespace_pids() -> list[int]:
    if not namespace_exists():
        return []
    return [int(pid) for pid in run("ip", "netns", "pids", NAMESPACE, check=False).split()]


def remove_namespace() -> None:
    """Kill what still runs in the namespace (only our servers and their children can
    be there), delete it and the host's end of the veth pair, and wait until the
    kernel has really let go of both (deletion finishes asynchronously)."""
    for pid in namespace_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if namespace_exists():
        run("ip", "netns", "del", NAMESPACE, check=False)
    deadline = time.monotonic() + 10
    while subprocess.run(["ip", "link", "show", VETH_HOST], capture_output=True).returncode == 0:
        run("ip", "link", "del", VETH_HOST, check=False)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{VETH_HOST} is still there")
        time.sleep(0.1)


def create_namespace() -> None:
    run("ip", "netns", "add", NAMESPACE)
    run("ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_FAR)
    run("ip", "link", "set", VETH_FAR, "netns", NAMESPACE)
    run("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", VETH_HOST)
    run("ip", "link", "set", VETH_HOST, "up")
    run(*in_namespace("ip", "addr", "add", f"{ADDRESS}/24", "dev", VETH_FAR))
    run(*in_namespace("ip", "link", "set", VETH_FAR, "up"))
    run(*in_namespace("ip", "link", "set", "lo", "up"))


def set_hosts_entries(present: bool) -> None:
    """Our lines in /etc/hosts, marked, added or removed. Written in place (the file
    may be a bind mount, which a rename would not replace)."""
    lines = [line for line in HOSTS_FILE.read_text().splitlines() if HOSTS_MARK not in line]
    if present:
        lines.append(f"{ADDRESS} {' '.join(NAMES)} {HOSTS_MARK}")
        lines.append(f"127.0.0.1 {LOOPBACK_NAME} {HOSTS_MARK}")
    with HOSTS_FILE.open("r+") as handle:
        handle.seek(0)
        handle.write("\n".join(lines) + "\n")
        handle.truncate()


# -- keys and certificates -----------------------------------------------------------


def make_tls(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for every name and the address; returns
    (ca.pem world-readable, server.pem, server.key 0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Onestop test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in NAMES]
    names.append(x509.IPAddress(ipaddress.ip_address(ADDRESS)))
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAMES[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    ca_path.chmod(0o644)
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return ca_path, cert_path, key_path


def make_ssh_key() -> tuple[str, str]:
    """An ed25519 key pair as OpenSSH text: (private, public line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public


# -- contents ------------------------------------------------------------------------


def make_files(root: Path) -> None:
    """The served files: random bytes of a few MiB, a folder tree, and archives good
    and bad (see make_archives)."""
    (root / "folder" / "sub").mkdir(parents=True)
    (root / "hello.txt").write_bytes(b"Hello from the far side.\n")
    (root / "data-3m.bin").write_bytes(os.urandom(3 * 2**20))
    (root / "data-1m.bin").write_bytes(os.urandom(2**20))
    (root / "slow-1m.bin").write_bytes(os.urandom(2**20))
    (root / "folder" / "a.csv").write_text("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(500)))
    (root / "folder" / "b.bin").write_bytes(os.urandom(512 * 1024))
    (root / "folder" / "sub" / "c.txt").write_text("a file one level down\n")
    make_archives(root / "archives")


def make_archives(folder: Path) -> None:
    """good.zip / good.tar.gz (a small tree: ``unpacked/...``), and the ones unpacking
    must refuse, each with a harmless entry first so that "nothing half-unpacked" is
    tested: slip.zip (``../escaped.txt``), abs.tar (``/tmp/...``), symlink.tar (a
    link out, then a file written through it), device.tar (a character device),
    bomb.zip (BOMB_BYTES of zeros in one entry) and many.zip (MANY_FILES empty files).
    """
    folder.mkdir()
    tree = {
        "unpacked/readme.txt": b"inside the archive\n",
        "unpacked/data/numbers.bin": os.urandom(200 * 1024),
        "unpacked/data/more/deep.txt": b"deeper\n",
    }
    with zipfile.ZipFile(folder / "good.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in tree.items():
            archive.writestr(name, data)
    with tarfile.open(folder / "good.tar.gz", "w:gz") as packed:
        for name, data in tree.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            packed.addfile(info, io.BytesIO(data))
    (folder / "good-tree.json").write_text(
        json.dumps({name: hashlib.sha256(data).hexdigest() for name, data in tree.items()})
    )

    with zipfile.ZipFile(folder / "slip.zip", "w") as archive:
        archive.writestr("fine.txt", b"harmless\n")
        archive.writestr("../../../../../../tmp/onestop-zip-slip-escaped.txt", b"escaped\n")

    def tar(name: str, *members: tuple[tarfile.TarInfo, bytes | None]) -> None:
        with tarfile.open(folder / name, "w") as archive:
            for info, data in members:
                archive.addfile(info, io.BytesIO(data) if data is not None else None)

    def entry(
        name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE
    ) -> tuple[tarfile.TarInfo, bytes | None]:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = 0o644
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        return info, (data if kind == tarfile.REGTYPE else None)

    fine = entry("fine.txt", b"harmless\n")
    link = entry("out", kind=tarfile.SYMTYPE)
    link[0].linkname = "../../../../../../tmp"
    tar("symlink.tar", fine, link, entry("out/onestop-symlink-escaped.txt", b"escaped\n"))
    tar("abs.tar", fine, entry("/tmp/onestop-abs-escaped.txt", b"escaped\n"))
    device = entry("null", kind=tarfile.CHRTYPE)
    device[0].devmajor, device[0].devminor = 1, 3
    tar("device.tar", fine, device)

    with zipfile.ZipFile(
        folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9
    ) as archive:
        archive.writestr("fine.txt", b"harmless\n")
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            zeros = bytes(2**20)
            for _ in range(BOMB_BYTES // len(zeros)):
                member.write(zeros)
    with zipfile.ZipFile(folder / "many.zip", "w") as archive:
        for number in range(MANY_FILES):
            archive.writestr(f"many/{number:05d}.txt", b"")


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def make_git(folder: Path) -> tuple[Path, dict[str, dict[str, str]], dict[str, str], str]:
    """A bare repository with three commits on ``main``, a tag on the first and a
    branch with a file of its own; returns (bare path, trees, commits, default)."""
    work = folder / "work"
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Far Side",
        "GIT_AUTHOR_EMAIL": "farside@example.test",
        "GIT_COMMITTER_NAME": "Far Side",
        "GIT_COMMITTER_EMAIL": "farside@example.test",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=work, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    trees: dict[str, dict[str, str]] = {}
    commits: dict[str, str] = {}
    git("init", "-q", "-b", "main")
    (work / "README.md").write_text("# A project on the far side\n")
    (work / "data").mkdir()
    (work / "data" / "values.csv").write_text("a,b\n1,2\n")
    git("add", "-A")
    git("commit", "-q", "-m", "First")
    git("tag", GIT_TAG)
    commits[GIT_TAG] = git("rev-parse", "HEAD")
    trees[GIT_TAG] = tree_hashes_git(work)
    git("checkout", "-q", "-b", GIT_BRANCH)
    (work / "feature.txt").write_text("only on the branch\n")
    git("add", "-A")
    git("commit", "-q", "-m", "A feature")
    commits[GIT_BRANCH] = git("rev-parse", "HEAD")
    trees[GIT_BRANCH] = tree_hashes_git(work)
    git("checkout", "-q", "main")
    (work / "data" / "values.csv").write_text("a,b\n1,2\n3,4\n")
    (work / "binary.bin").write_bytes(os.urandom(64 * 1024))
    git("add", "-A")
    git("commit", "-q", "-m", "Second")
    (work / "README.md").write_text("# A project on the far side\n\nNow with more.\n")
    git("commit", "-q", "-am", "Third")
    commits["main"] = commits[""] = git("rev-parse", "HEAD")
    trees["main"] = trees[""] = tree_hashes_git(work)
    bare = folder / "project.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], env=env, check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], env=env, check=True)
    return bare, trees, commits, "main"


def tree_hashes_git(work: Path) -> dict[str, str]:
    return {
        str(path.relative_to(work)): sha256_file(path)
        for path in sorted(work.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(work).parts
    }


# -- configurations ------------------------------------------------------------------


def nginx_config(base: Path, cert: Path, key: Path, loopback_port: int, git_root: Path) -> str:
    files = base / "files"
    temp = "\n".join(
        f"    {name}_temp_path {base / 'nginx' / ('temp-' + name)};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    tls = f"""
        ssl_certificate {cert};
        ssl_certificate_key {key};"""
    proxy = """
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 300s;"""
    return f"""
worker_processes 2;
user root;
pid {base}/nginx/nginx.pid;
error_log {base}/logs/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{temp}
    log_format ranges '$request_method $uri $status "$http_range" $body_bytes_sent';
    access_log {base}/logs/nginx-access.log ranges;
    client_max_body_size 0;
    sendfile on;

    server {{
        listen {ADDRESS}:{HTTP_PORT};
        listen {ADDRESS}:{HTTPS_PORT} ssl;{tls}
        server_name _;

        location /files/ {{ alias {files}/; }}
        location /slow/ {{ alias {files}/; limit_rate {SLOW_RATE}; }}
        # Three hops, the first from http to https.
        location = /hop/1 {{ return 302 https://$host/hop/2; }}
        location = /hop/2 {{ return 302 $scheme://$http_host/hop/3; }}
        location = /hop/3 {{ return 302 $scheme://$http_host/files/data-3m.bin; }}
        location = /loop {{ return 302 $scheme://$http_host/loop; }}
        location = /to-loopback {{ return 302 http://127.0.0.1:{loopback_port}/secret; }}
        location = /to-loopback-name {{
            return 302 http://{LOOPBACK_NAME}:{loopback_port}/secret;
        }}
        location = /to-metadata {{ return 302 http://169.254.169.254/latest/meta-data/; }}
        location ~ ^/git(/.*)$ {{
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:{base}/git/fcgiwrap.sock;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT {git_root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
        }}
    }}

    # S3 over HTTPS: moto behind nginx with the test CA (Host kept: SigV4 signs it).
    server {{
        listen {ADDRESS}:{S3_HTTPS_PORT} ssl;{tls}
        location / {{
            proxy_pass http://{ADDRESS}:{S3_PORT};{proxy}
        }}
    }}
    server {{
        listen {ADDRESS}:{S3_PRIVATE_HTTPS_PORT} ssl;{tls}
        location / {{
            proxy_pass http://{ADDRESS}:{S3_PRIVATE_PORT};{proxy}
        }}
    }}

    # WebDAV over HTTPS, and a Nextcloud-like public share page at /s/<token>.
    server {{
        listen {ADDRESS}:{WEBDAV_HTTPS_PORT} ssl;{tls}
        location /s/ {{ default_type text/html; return 200 "<p>A public share</p>"; }}
        location / {{
            proxy_pass http://{ADDRESS}:{WEBDAV_PORT};{proxy}
        }}
    }}
}}
"""


def sshd_config(folder: Path) -> str:
    return f"""
ListenAddress {ADDRESS}:{SSH_PORT}
HostKey {folder}/ssh_host_ed25519_key
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder.parent}/ssh-authorized/%u
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers {REMOTE_USER}
Subsystem sftp internal-sftp
LogLevel ERROR
"""


def ensure_remote_user(password: str) -> Path:
    """The remote machine's user (``farside``): created once, its password set anew
    each session (through chpasswd's standard input, never an argv)."""
    if subprocess.run(["id", REMOTE_USER], capture_output=True).returncode != 0:
        run("useradd", "--create-home", "--shell", "/bin/bash", REMOTE_USER)
    run("chpasswd", input=f"{REMOTE_USER}:{password}\n".encode())
    run("usermod", "--unlock", REMOTE_USER, check=False)
    return Path(f"/home/{REMOTE_USER}")


# -- the whole world -----------------------------------------------------------------


@contextlib.contextmanager
def exclusive_lock() -> Iterator[None]:
    """One session at a time holds the namespace; released when the holder exits, even
    by a crash (flock), so a dead run never blocks the next."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another test session holds the transfer hosts") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LoopbackListener(http.server.ThreadingHTTPServer):
    """A server on this machine's 127.0.0.1 that an SSRF would reach: it answers a
    secret and records each path, so a test sees a refusal was really a refusal."""

    hits: list[str]


class LoopbackHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, LoopbackListener)
        server.hits.append(self.path)
        body = b"loopback secret: an SSRF got through\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the hits list is the record."""


def stop_processes(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def setup_s3(public: str, private: str, files: Path) -> tuple[str, str, dict[str, str], str]:
    """Buckets, objects and a user with keys on the two S3 servers.

    Two moto servers, because moto cannot be both at once: with signatures enforced,
    an unsigned request (a public bucket's reader) fails inside moto (it looks up the
    Authorization header it lacks). So ``public`` never checks a signature and holds
    the public-read bucket; ``private`` holds the private bucket and enforces
    signatures from the end of this setup on (until then it lets every request
    through, so the setup needs no bootstrap keys)."""
    import boto3
    import httpx
    from botocore.config import Config

    def client(service: str, endpoint: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=S3_REGION,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
            config=Config(s3={"addressing_style": "path"}),
        )

    iam = client("iam", private)
    iam.create_user(UserName=REMOTE_USER)
    iam.put_user_policy(
        UserName=REMOTE_USER,
        PolicyName="everything-s3",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    created = iam.create_access_key(UserName=REMOTE_USER)["AccessKey"]
    open_s3, signed_s3 = client("s3", public), client("s3", private)
    open_s3.create_bucket(Bucket=PUBLIC_BUCKET, ACL="public-read")
    open_s3.put_bucket_policy(
        Bucket=PUBLIC_BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": [
                            f"arn:aws:s3:::{PUBLIC_BUCKET}",
                            f"arn:aws:s3:::{PUBLIC_BUCKET}/*",
                        ],
                    }
                ],
            }
        ),
    )
    signed_s3.create_bucket(Bucket=PRIVATE_BUCKET)
    objects: dict[str, str] = {}
    tree = files / "folder"
    uploads = [(S3_PREFIX + str(path.relative_to(tree)), path) for path in sorted(tree.rglob("*"))]
    uploads.append(("hello.txt", files / "hello.txt"))
    for key, path in uploads:
        if path.is_file():
            data = path.read_bytes()
            objects[key] = hashlib.sha256(data).hexdigest()
            open_s3.put_object(Bucket=PUBLIC_BUCKET, Key=key, Body=data, ACL="public-read")
            signed_s3.put_object(Bucket=PRIVATE_BUCKET, Key=key, Body=data)
    big = os.urandom(2 * S3_PART_SIZE + 2**20)
    upload = open_s3.create_multipart_upload(
        Bucket=PUBLIC_BUCKET, Key=S3_MULTIPART_KEY, ACL="public-read"
    )
    parts = []
    for number, start in enumerate(range(0, len(big), S3_PART_SIZE), start=1):
        part = open_s3.upload_part(
            Bucket=PUBLIC_BUCKET,
            Key=S3_MULTIPART_KEY,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=big[start : start + S3_PART_SIZE],
        )
        parts.append({"ETag": part["ETag"], "PartNumber": number})
    open_s3.complete_multipart_upload(
        Bucket=PUBLIC_BUCKET,
        Key=S3_MULTIPART_KEY,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    httpx.post(f"{private}/moto-api/reset-auth", content=b"0", timeout=10).raise_for_status()
    return (
        created["AccessKeyId"],
        created["SecretAccessKey"],
        objects,
        hashlib.sha256(big).hexdigest(),
    )


@contextlib.contextmanager
def running_hosts() -> Iterator[TransferHosts]:
    """The whole outside world, up; everything stopped and removed on exit."""
    with exclusive_lock():
        remove_namespace()
        set_hosts_entries(False)
        shutil.rmtree(BASE, ignore_errors=True)
        BASE.mkdir(mode=0o755)
        BASE.chmod(0o755)  # whatever the umask: alice reads ca.pem through it
        processes: dict[str, subprocess.Popen[bytes]] = {}
        loopback = LoopbackListener(("127.0.0.1", 0), LoopbackHandler)
        loopback.hits = []
        loopback.daemon_threads = True
        thread = threading.Thread(target=loopback.serve_forever, daemon=True)
        thread.start()
        try:
            hosts = start_world(processes, loopback)
            yield hosts
        finally:
            stop_processes(processes)
            loopback.shutdown()
            loopback.server_close()
            remove_namespace()
            set_hosts_entries(False)
            shutil.rmtree(BASE, ignore_errors=True)


def start_world(
    processes: dict[str, subprocess.Popen[bytes]], loopback: LoopbackListener
) -> TransferHosts:
    logs = BASE / "logs"
    secret_dir = BASE / "secret"
    # sshd reads authorized keys as the user, so their folder is readable by all (they
    # are public keys); the host key's folder is root's alone.
    for folder in (logs, secret_dir, BASE / "nginx", BASE / "ssh", BASE / "ssh-authorized"):
        folder.mkdir(parents=True)
    secret_dir.chmod(0o700)
    (BASE / "ssh").chmod(0o700)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (BASE / "nginx" / f"temp-{name}").mkdir()

    create_namespace()
    set_hosts_entries(True)

    def start(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                in_namespace(*args),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )
        processes[name] = process
        return process

    # S3 first: moto takes the longest to import; the rest is made meanwhile.
    # Path-style only: "s3.example.test" is a host, not a bucket called "s3".
    moto_env = {**os.environ, "S3_IGNORE_SUBDOMAIN_BUCKETNAME": "true"}
    moto = start(
        "moto", str(VENV_BIN / "moto_server"), "-H", ADDRESS, "-p", str(S3_PORT), env=moto_env
    )
    moto_private = start(
        "moto-private",
        str(VENV_BIN / "moto_server"),
        "-H",
        ADDRESS,
        "-p",
        str(S3_PRIVATE_PORT),
        env=moto_env,
    )

    files = BASE / "files"
    make_files(files)
    ca, cert, key = make_tls(BASE)
    bare, git_trees, git_commits, default_branch = make_git(BASE / "git")

    # WebDAV: a folder with the tree at data/, exports/ for exports; a public share.
    webdav_root, share_root = BASE / "dav", BASE / "share"
    shutil.copytree(files / "folder", webdav_root / "data")
    (webdav_root / "exports").mkdir()
    shutil.copytree(files / "folder", share_root / "shared")
    webdav_password = secrets.token_urlsafe(18)
    share_token = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
    dav_config = BASE / "secret" / "wsgidav.json"
    write_private(
        dav_config,
        json.dumps(
            {
                "host": ADDRESS,
                "port": WEBDAV_PORT,
                "provider_mapping": {
                    "/dav": str(webdav_root),
                    "/public.php/webdav": str(share_root),
                },
                "users": {
                    "/dav": {REMOTE_USER: webdav_password},
                    "/public.php/webdav": {share_token: ""},
                },
            }
        ),
    )
    dav = start("wsgidav", PYTHON, "-m", "tests.transfers.hosts", "wsgidav", str(dav_config))
    drop_log = logs / "drop.jsonl"
    drop = start("drop", PYTHON, "-m", "tests.transfers.hosts", "drop", str(files), str(drop_log))

    # Git: fcgiwrap for git http-backend, then nginx in front of everything HTTP.
    fcgi = start(
        "fcgiwrap", "/usr/sbin/fcgiwrap", "-c", "2", "-s", f"unix:{BASE}/git/fcgiwrap.sock"
    )
    config = BASE / "nginx" / "nginx.conf"
    config.write_text(nginx_config(BASE, cert, key, loopback.server_address[1], bare.parent))
    tested = subprocess.run(
        in_namespace("nginx", "-t", "-q", "-c", str(config), "-p", str(BASE / "nginx")),
        capture_output=True,
        text=True,
    )
    if tested.returncode != 0:
        raise RuntimeError(f"nginx -t: {tested.stderr}")
    deadline = time.monotonic() + 10
    while not (BASE / "git" / "fcgiwrap.sock").exists():
        if fcgi.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((logs / "fcgiwrap.log").read_text())
        time.sleep(0.05)
    nginx = start(
        "nginx", "nginx", "-c", str(config), "-p", str(BASE / "nginx"), "-g", "daemon off;"
    )

    # SFTP: the remote user, its files, our own sshd with its own host key.
    sftp_password = secrets.token_urlsafe(18)
    home = ensure_remote_user(sftp_password)
    for name in ("data", "exports"):
        shutil.rmtree(home / name, ignore_errors=True)
    shutil.copytree(files / "folder", home / "data")
    (home / "exports").mkdir()
    run("chown", "-R", f"{REMOTE_USER}:{REMOTE_USER}", str(home / "data"), str(home / "exports"))
    host_private, host_public = make_ssh_key()
    write_private(BASE / "ssh" / "ssh_host_ed25519_key", host_private)
    (BASE / "ssh" / "ssh_host_ed25519_key.pub").write_text(host_public + "\n")
    user_private, user_public = make_ssh_key()
    stranger_private, _ = make_ssh_key()
    _, other_host_public = make_ssh_key()
    (BASE / "ssh-authorized" / REMOTE_USER).write_text(user_public + "\n")
    (BASE / "ssh-authorized").chmod(0o755)
    (BASE / "ssh" / "sshd_config").write_text(sshd_config(BASE / "ssh"))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    sshd = start("sshd", "/usr/sbin/sshd", "-D", "-e", "-f", str(BASE / "ssh" / "sshd_config"))

    for port, process, name in (
        (WEBDAV_PORT, dav, "wsgidav"),
        (DROP_PORT, drop, "drop"),
        (HTTP_PORT, nginx, "nginx"),
        (SSH_PORT, sshd, "sshd"),
        (S3_PORT, moto, "moto"),
        (S3_PRIVATE_PORT, moto_private, "moto-private"),
    ):
        wait_listening(port, process, logs / f"{name}.log")
    s3_endpoint = f"http://{NAMES[1]}:{S3_PORT}"
    s3_private_endpoint = f"http://{NAMES[1]}:{S3_PRIVATE_PORT}"
    access_key, secret_key, s3_objects, multipart_sha = setup_s3(
        s3_endpoint, s3_private_endpoint, files
    )

    hashes = tree_hashes(files)
    hostname = NAMES[0]
    http_url, https_url = f"http://{hostname}", f"https://{hostname}"
    hosts = TransferHosts(
        namespace=NAMESPACE,
        address=ADDRESS,
        host_address=HOST_ADDRESS,
        network=NETWORK,
        hostname=hostname,
        loopback_name=LOOPBACK_NAME,
        ca_file=str(ca),
        base=BASE,
        local_files=files,
        files=hashes,
        sizes={name: (files / name).stat().st_size for name in hashes},
        http_url=http_url,
        https_url=https_url,
        redirect_url=f"{http_url}/hop/1",
        redirect_target="data-3m.bin",
        redirect_loop_url=f"{http_url}/loop",
        redirect_to_loopback_url=f"{http_url}/to-loopback",
        redirect_to_loopback_name_url=f"{http_url}/to-loopback-name",
        redirect_to_metadata_url=f"{http_url}/to-metadata",
        slow_rate=SLOW_RATE,
        nginx_access_log=logs / "nginx-access.log",
        drop_base=f"http://{hostname}:{DROP_PORT}",
        drop_log=drop_log,
        loopback_port=loopback.server_address[1],
        s3_endpoint=s3_endpoint,
        s3_https_endpoint=f"https://{NAMES[1]}:{S3_HTTPS_PORT}",
        s3_private_endpoint=s3_private_endpoint,
        s3_private_https_endpoint=f"https://{NAMES[1]}:{S3_PRIVATE_HTTPS_PORT}",
        s3_region=S3_REGION,
        s3_public_bucket=PUBLIC_BUCKET,
        s3_private_bucket=PRIVATE_BUCKET,
        s3_access_key=access_key,
        s3_secret_key=secret_key,
        s3_prefix=S3_PREFIX,
        s3_objects=s3_objects,
        s3_multipart_key=S3_MULTIPART_KEY,
        s3_multipart_sha256=multipart_sha,
        sftp_host=NAMES[4],
        sftp_port=SSH_PORT,
        sftp_user=REMOTE_USER,
        sftp_password=sftp_password,
        sftp_private_key=user_private,
        sftp_public_key=user_public,
        sftp_unauthorized_key=stranger_private,
        sftp_host_key=host_public,
        sftp_fingerprint=ssh_fingerprint(host_public),
        sftp_other_host_key=other_host_public,
        sftp_home=str(home),
        sftp_data_path=str(home / "data"),
        sftp_export_path=str(home / "exports"),
        webdav_url=f"http://{NAMES[2]}:{WEBDAV_PORT}/dav",
        webdav_https_url=f"https://{NAMES[2]}:{WEBDAV_HTTPS_PORT}/dav",
        webdav_user=REMOTE_USER,
        webdav_password=webdav_password,
        webdav_root=webdav_root,
        webdav_share_url=f"https://{NAMES[2]}:{WEBDAV_HTTPS_PORT}/s/{share_token}",
        webdav_share_token=share_token,
        webdav_share_root=share_root,
        git_url=f"http://{NAMES[3]}/git/project.git",
        git_https_url=f"https://{NAMES[3]}/git/project.git",
        git_branch=GIT_BRANCH,
        git_tag=GIT_TAG,
        git_default_branch=default_branch,
        git_trees=git_trees,
        git_commits=git_commits,
        processes=processes,
    )
    hosts._loopback_hits = loopback.hits
    return hosts


# -- the fixture (a module's or conftest's namespace imports it) ----------------------


class _Shared:
    """The one running world of this process. Each module or conftest that imports the
    fixture gets a fixture of its own in pytest's eyes; they must all share one world,
    because the namespace's lock is an flock, which a second open in the same process
    waits for (until LOCK_WAIT_SECONDS, then every test after it errors)."""

    stack: contextlib.ExitStack | None = None
    hosts: TransferHosts | None = None
    users = 0


def _fixture() -> Any:
    import pytest

    @pytest.fixture(scope="session")
    def transfer_hosts() -> Iterator[TransferHosts]:
        """The data tool's outside world (see this module), once per session."""
        if _Shared.users == 0:
            stack = contextlib.ExitStack()
            _Shared.hosts = stack.enter_context(running_hosts())
            _Shared.stack = stack
        _Shared.users += 1
        try:
            assert _Shared.hosts is not None
            yield _Shared.hosts
        finally:
            _Shared.users -= 1
            if _Shared.users == 0 and _Shared.stack is not None:
                _Shared.stack.close()
                _Shared.stack = _Shared.hosts = None

    return transfer_hosts


transfer_hosts = _fixture()


# -- the small servers, run inside the namespace ------------------------------------


class DropHandler(http.server.BaseHTTPRequestHandler):
    """``/drop/<token>/<file>``: the first request for a token gets the headers for the
    whole file and half its bytes, then the connection is cut; later requests are
    served whole or, with ``Range: bytes=N-[M]``, as 206. Each request is logged."""

    protocol_version = "HTTP/1.1"
    root: Path
    log: Path
    seen: set[str]
    lock = threading.Lock()

    def do_GET(self) -> None:
        parts = self.path.split("?")[0].split("/")
        if len(parts) != 4 or parts[1] != "drop" or "/" in parts[3] or parts[3] in ("", ".", ".."):
            self.send_error(404)
            return
        path = self.root / parts[3]
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        with self.lock:
            first = parts[2] not in self.seen
            self.seen.add(parts[2])
        wanted = self.headers.get("Range")
        start, end, status = 0, len(data) - 1, 200
        if wanted and not first and wanted.startswith("bytes="):
            low, _, high = wanted[len("bytes=") :].partition("-")
            start = int(low) if low else 0
            end = min(int(high), len(data) - 1) if high else len(data) - 1
            status = 206
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.record(wanted, 416, 0)
                return
        if first:
            start, end, status = 0, len(data) - 1, 200  # ignores a Range the first time
        body = data[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if first:
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            self.record(wanted, status, half)
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)
        self.record(wanted, status, len(body))

    def record(self, wanted: str | None, status: int, sent: int) -> None:
        entry = {"path": self.path, "range": wanted, "status": status, "sent": sent}
        with self.lock, self.log.open("a") as out:
            out.write(json.dumps(entry) + "\n")

    def log_message(self, format: str, *args: Any) -> None:
        """The JSON log is the record."""


def serve_drop(root: Path, log: Path) -> None:
    DropHandler.root, DropHandler.log, DropHandler.seen = root, log, set()
    server = http.server.ThreadingHTTPServer((ADDRESS, DROP_PORT), DropHandler)
    server.daemon_threads = True
    server.serve_forever()


def serve_wsgidav(config_path: Path) -> None:
    """wsgidav with Basic auth from a JSON file (written 0600, read once), served by
    werkzeug (threaded, and it understands chunked uploads)."""
    from werkzeug.serving import run_simple
    from werkzeug.wsgi import get_input_stream
    from wsgidav.wsgidav_app import WsgiDAVApp

    settings = json.loads(config_path.read_text())
    config = {
        "host": settings["host"],
        "port": settings["port"],
        "provider_mapping": settings["provider_mapping"],
        "http_authenticator": {
            "domain_controller": None,  # the simple one, with the users below
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "simple_dc": {
            "user_mapping": {
                share: {user: {"password": password} for user, password in users.items()}
                for share, users in settings["users"].items()
            }
        },
        "verbose": 1,
        "logging": {"enable": False},
        "property_manager": True,
        "lock_storage": True,
    }
    dav = WsgiDAVApp(config)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        # wsgidav reads a PUT's body until the stream ends; werkzeug hands it the
        # socket itself, which ends only when the client hangs up. Bounded by the
        # Content-Length (or de-chunked), the body ends where the request does.
        environ["wsgi.input"] = get_input_stream(environ)
        return dav(environ, start_response)

    run_simple(settings["host"], settings["port"], app, threaded=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    drop = commands.add_parser("drop")
    drop.add_argument("root", type=Path)
    drop.add_argument("log", type=Path)
    dav = commands.add_parser("wsgidav")
    dav.add_argument("config", type=Path)
    arguments = parser.parse_args()
    if arguments.command == "drop":
        serve_drop(arguments.root, arguments.log)
    else:
        serve_wsgidav(arguments.config)


if __name__ == "__main__":
    main()
