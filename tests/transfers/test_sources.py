"""The engine against the test hosts, driven exactly as the portal drives it.

Each test builds a ``TransferSpec`` (the outside world's range opened, the test CA
trusted), hands it over as alice's agent does (``folders.prepare`` and
``folders.write_spec``, run as alice, the secrets through a pipe), and runs the worker
as alice: ``python -m managers.data.worker run <folder>``. What the test reads
afterwards is what the portal reads: ``progress.json``, and the files in her folder.
Meanwhile ``ps`` is sampled, so a secret in any process's argv is caught in the act.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from pydantic import SecretStr

from managers.data.spec import (
    Direction,
    GitEndpoint,
    Limits,
    NetworkRules,
    S3Endpoint,
    SftpEndpoint,
    TransferSpec,
    UrlEndpoint,
    UrlItem,
    WebDavEndpoint,
    to_wire,
)
from tests.transfers.hosts import REPO, TransferHosts, sha256_file

if not (REPO / "managers" / "data" / "worker.py").exists():
    pytest.skip("the data engine's worker has not landed yet", allow_module_level=True)

ALICE = pwd.getpwnam("alice")
PYTHON = sys.executable
HANDOVER = """
import json, sys
from managers.data import folders
folder = folders.prepare(sys.argv[1])
folders.write_spec(folder, json.loads(sys.stdin.read()))
print(folder)
"""
ESCAPES = (
    "/tmp/onestop-zip-slip-escaped.txt",
    "/tmp/onestop-symlink-escaped.txt",
    "/tmp/onestop-abs-escaped.txt",
)


def as_alice(*args: str, input: str | None = None) -> str:
    done = subprocess.run(
        ["runuser", "-u", "alice", "--", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Run:
    """One finished transfer: its last progress, her target and what was seen."""

    progress: dict[str, Any]
    folder: Path  # the transfer's own folder
    target: Path
    ps: str  # every ps sample taken while it ran, joined
    log: str

    @property
    def state(self) -> str:
        return str(self.progress["state"])

    def tree(self) -> dict[str, str]:
        return {
            str(path.relative_to(self.target)): sha256_file(path)
            for path in sorted(self.target.rglob("*"))
            if path.is_file() and not path.is_symlink()
        }


@pytest.fixture
def target() -> Iterator[Path]:
    """An empty folder of alice's for one test, removed afterwards."""
    root = Path(ALICE.pw_dir) / "transfer-tests"
    folder = root / secrets.token_hex(4)
    as_alice("mkdir", "-p", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def make_spec(
    hosts: TransferHosts,
    source: Any,
    local: Path,
    direction: Direction = Direction.IMPORT,
    *,
    unpack: bool = False,
    limits: Limits | None = None,
) -> TransferSpec:
    return TransferSpec(
        id=secrets.token_hex(8),
        owner="alice",
        direction=direction,
        source=source,
        local_path=str(local),
        unpack=unpack,
        network=NetworkRules(allowed_ranges=(hosts.network,), ca_file=hosts.ca_file),
        limits=limits or Limits(),
    )


def run_transfer(spec: TransferSpec, target: Path, seconds: float = 90) -> Run:
    """Hand ``spec`` over as her agent would, run the worker as her until it ends."""
    folder = Path(
        as_alice(PYTHON, "-c", HANDOVER, spec.id, input=json.dumps(to_wire(spec))).strip()
    )
    worker = subprocess.Popen(
        [
            "runuser",
            "-u",
            "alice",
            "--",
            "sh",
            "-c",
            'exec "$0" -m managers.data.worker run "$1" >>"$1/worker.log" 2>&1',
            PYTHON,
            str(folder),
        ],
        cwd=REPO,
    )
    samples: list[str] = []
    deadline = time.monotonic() + seconds
    progress: dict[str, Any] = {}
    while time.monotonic() < deadline:
        samples.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)
        path = folder / "progress.json"
        if path.exists():  # replaced whole (rename), so never read half-written
            progress = json.loads(path.read_text())
        if worker.poll() is not None and progress.get("state") in ("done", "failed", "cancelled"):
            break
        time.sleep(0.1)
    else:
        worker.kill()
        raise AssertionError(f"the transfer did not end in {seconds} s: {progress}")
    log = (
        (folder / "worker.log").read_text(errors="replace")
        if (folder / "worker.log").exists()
        else ""
    )
    return Run(progress, folder, target, "\n".join(samples), log)


def assert_hers(run: Run) -> None:
    """Every result in her folder is alice's, uid and gid."""
    for path in [run.target, *run.target.rglob("*")]:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (ALICE.pw_uid, ALICE.pw_gid), path


def assert_secret_nowhere(run: Run, *secret_values: str) -> None:
    for value in secret_values:
        assert value not in run.ps, "a secret was in a process's argv"
        assert value not in run.log, "a secret is in the worker's log"
        for path in run.folder.rglob("*"):
            if path.is_file():
                assert value.encode() not in path.read_bytes(), f"a secret is in {path.name}"
    assert not (run.folder / "spec.json").exists()


def assert_done(run: Run) -> None:
    assert run.state == "done", (run.progress, run.log[-2000:])


# -- URLs ----------------------------------------------------------------------------


def test_url_import_https_and_http(transfer_hosts: TransferHosts, target: Path) -> None:
    items = (
        UrlItem(url=transfer_hosts.url("data-3m.bin"), sha256=transfer_hosts.files["data-3m.bin"]),
        UrlItem(url=transfer_hosts.url("hello.txt", https=False)),
    )
    run = run_transfer(make_spec(transfer_hosts, UrlEndpoint(items=items), target), target)
    assert_done(run)
    assert run.tree() == {name: transfer_hosts.files[name] for name in ("data-3m.bin", "hello.txt")}
    assert run.progress["files_done"] == 2
    checks = {check["path"]: check for check in run.progress["checks"]}
    assert checks["data-3m.bin"]["method"] == "sha256" and checks["data-3m.bin"]["ok"]
    assert_hers(run)


def test_url_redirect_chain(transfer_hosts: TransferHosts, target: Path) -> None:
    spec = make_spec(
        transfer_hosts, UrlEndpoint(items=(UrlItem(url=transfer_hosts.redirect_url),)), target
    )
    run = run_transfer(spec, target)
    assert_done(run)
    assert list(run.tree().values()) == [transfer_hosts.files[transfer_hosts.redirect_target]]
    assert_hers(run)


def test_url_resumes_after_a_drop(transfer_hosts: TransferHosts, target: Path) -> None:
    url = transfer_hosts.drop_url("data-3m.bin")
    spec = make_spec(transfer_hosts, UrlEndpoint(items=(UrlItem(url=url),)), target)
    run = run_transfer(spec, target)
    assert_done(run)
    assert list(run.tree().values()) == [transfer_hosts.files["data-3m.bin"]]
    seen = transfer_hosts.drop_requests(url)
    assert seen[0]["status"] == 200 and seen[0]["sent"] < transfer_hosts.sizes["data-3m.bin"]
    resumed = [entry for entry in seen[1:] if entry["status"] == 206]
    assert resumed, f"no request resumed with Range: {seen}"
    assert resumed[0]["range"].startswith("bytes=") and not resumed[0]["range"].startswith(
        "bytes=0-"
    )


def ssrf_urls(hosts: TransferHosts) -> dict[str, str]:
    port = hosts.loopback_port
    return {
        "loopback": f"http://127.0.0.1:{port}/secret",
        "ipv6 loopback": f"http://[::1]:{port}/secret",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "private": "http://10.0.0.1/",
        "a name for loopback": f"http://{hosts.loopback_name}:{port}/secret",
        "redirect to loopback": hosts.redirect_to_loopback_url,
        "redirect to a loopback name": hosts.redirect_to_loopback_name_url,
    }


@pytest.mark.parametrize(
    "case",
    [
        "loopback",
        "ipv6 loopback",
        "metadata",
        "private",
        "a name for loopback",
        "redirect to loopback",
        "redirect to a loopback name",
    ],
)
def test_ssrf_is_refused(transfer_hosts: TransferHosts, target: Path, case: str) -> None:
    before = len(transfer_hosts.loopback_hits())
    url = ssrf_urls(transfer_hosts)[case]
    run = run_transfer(
        make_spec(transfer_hosts, UrlEndpoint(items=(UrlItem(url=url),)), target), target
    )
    assert run.state == "failed", run.progress
    assert run.progress["error"] == "refused_address", run.progress
    message = run.progress["message"] or ""
    assert len(message) > 20 and "Traceback" not in message and "Error" not in message, message
    assert len(transfer_hosts.loopback_hits()) == before
    assert run.tree() == {}


# -- S3 ------------------------------------------------------------------------------


def dataset(hosts: TransferHosts) -> dict[str, str]:
    return {
        key.removeprefix(hosts.s3_prefix): sha
        for key, sha in hosts.s3_objects.items()
        if key.startswith(hosts.s3_prefix)
    }


def test_s3_public_prefix(transfer_hosts: TransferHosts, target: Path) -> None:
    source = S3Endpoint(
        endpoint_url=transfer_hosts.s3_endpoint,
        region=transfer_hosts.s3_region,
        bucket=transfer_hosts.s3_public_bucket,
        prefix=transfer_hosts.s3_prefix,
    )
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    assert run.tree() == dataset(transfer_hosts)
    assert {check["method"] for check in run.progress["checks"]} == {"md5"}
    assert run.progress["verified"] is True
    assert_hers(run)


def test_s3_multipart_object(transfer_hosts: TransferHosts, target: Path) -> None:
    source = S3Endpoint(
        endpoint_url=transfer_hosts.s3_https_endpoint,
        bucket=transfer_hosts.s3_public_bucket,
        prefix=transfer_hosts.s3_multipart_key,
    )
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    assert list(run.tree().values()) == [transfer_hosts.s3_multipart_sha256]
    # A multipart ETag is no MD5 of the bytes: no checksum was checked, so not verified.
    assert run.progress["verified"] is False


def test_s3_private_with_keys(transfer_hosts: TransferHosts, target: Path) -> None:
    source = S3Endpoint(
        endpoint_url=transfer_hosts.s3_private_endpoint,
        region=transfer_hosts.s3_region,
        bucket=transfer_hosts.s3_private_bucket,
        prefix=transfer_hosts.s3_prefix,
        access_key=SecretStr(transfer_hosts.s3_access_key),
        secret_key=SecretStr(transfer_hosts.s3_secret_key),
    )
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    assert run.tree() == dataset(transfer_hosts)
    assert run.progress["verified"] is True
    assert_secret_nowhere(run, transfer_hosts.s3_secret_key)


def test_s3_wrong_secret_is_refused(transfer_hosts: TransferHosts, target: Path) -> None:
    source = S3Endpoint(
        endpoint_url=transfer_hosts.s3_private_endpoint,
        bucket=transfer_hosts.s3_private_bucket,
        access_key=SecretStr(transfer_hosts.s3_access_key),
        secret_key=SecretStr("not-the-secret-at-all"),
    )
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert run.state == "failed" and run.progress["error"] == "auth", run.progress
    assert run.tree() == {}


# -- SFTP ----------------------------------------------------------------------------


def sftp(hosts: TransferHosts, **given: Any) -> SftpEndpoint:
    return SftpEndpoint(
        host=hosts.sftp_host,
        port=hosts.sftp_port,
        username=hosts.sftp_user,
        path=given.pop("path", hosts.sftp_data_path),
        **given,
    )


def test_sftp_first_use_reports_the_host_key(transfer_hosts: TransferHosts, target: Path) -> None:
    source = sftp(transfer_hosts, password=SecretStr(transfer_hosts.sftp_password))
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert run.state == "failed" and run.progress["error"] == "host_key_unknown", run.progress
    assert run.progress["offered_fingerprint"] == transfer_hosts.sftp_fingerprint
    offered = run.progress["offered_host_key"].split()[:2]
    assert offered == transfer_hosts.sftp_host_key.split()[:2]
    assert run.tree() == {}


def test_sftp_with_password(transfer_hosts: TransferHosts, target: Path) -> None:
    source = sftp(
        transfer_hosts,
        password=SecretStr(transfer_hosts.sftp_password),
        host_key=transfer_hosts.sftp_host_key,
    )
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    assert run.tree() == dataset(transfer_hosts)
    assert_hers(run)
    assert_secret_nowhere(run, transfer_hosts.sftp_password)


def test_sftp_with_key(transfer_hosts: TransferHosts, target: Path) -> None:
    source = sftp(
        transfer_hosts,
        private_key=SecretStr(transfer_hosts.sftp_private_key),
        host_key=transfer_hosts.sftp_host_key,
    )
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    assert run.tree() == dataset(transfer_hosts)
    key_body = transfer_hosts.sftp_private_key.splitlines()[1]
    assert_secret_nowhere(run, key_body)


def test_sftp_unknown_key_and_wrong_host_key_are_refused(
    transfer_hosts: TransferHosts, target: Path
) -> None:
    stranger = sftp(
        transfer_hosts,
        private_key=SecretStr(transfer_hosts.sftp_unauthorized_key),
        host_key=transfer_hosts.sftp_host_key,
    )
    run = run_transfer(make_spec(transfer_hosts, stranger, target), target)
    assert run.state == "failed" and run.progress["error"] == "auth", run.progress
    impostor = sftp(
        transfer_hosts,
        password=SecretStr(transfer_hosts.sftp_password),
        host_key=transfer_hosts.sftp_other_host_key,
    )
    run = run_transfer(make_spec(transfer_hosts, impostor, target), target)
    assert run.state == "failed", run.progress
    assert run.progress["error"] in ("host_key_unknown", "auth"), run.progress
    assert run.tree() == {}


# -- WebDAV and Git ------------------------------------------------------------------


def test_webdav_with_password(transfer_hosts: TransferHosts, target: Path) -> None:
    source = WebDavEndpoint(
        url=transfer_hosts.webdav_https_url,
        username=transfer_hosts.webdav_user,
        password=SecretStr(transfer_hosts.webdav_password),
        path="data",
    )
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    assert run.tree() == dataset(transfer_hosts)
    assert_hers(run)
    assert_secret_nowhere(run, transfer_hosts.webdav_password)


def test_webdav_public_share(transfer_hosts: TransferHosts, target: Path) -> None:
    source = WebDavEndpoint(url=transfer_hosts.webdav_share_url, path="shared")
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    assert run.tree() == dataset(transfer_hosts)


@pytest.mark.parametrize("ref", ["", "feature", "v1.0"])
def test_git(transfer_hosts: TransferHosts, target: Path, ref: str) -> None:
    source = GitEndpoint(url=transfer_hosts.git_url, ref=ref or None)
    run = run_transfer(make_spec(transfer_hosts, source, target), target)
    assert_done(run)
    tree = {path: sha for path, sha in run.tree().items() if ".git" not in Path(path).parts}
    expected = transfer_hosts.git_trees[ref]
    # She may get the clone in a folder named after the repository, or directly.
    prefixes = {path.split("/", 1)[0] for path in tree}
    if prefixes == {"project"}:
        tree = {path.split("/", 1)[1]: sha for path, sha in tree.items()}
    assert tree == expected
    assert_hers(run)


# -- exports -------------------------------------------------------------------------


@pytest.fixture
def results(target: Path) -> Path:
    """Her results to send out: a folder of three files (one 1 MiB), made as her."""
    folder = target / "results"
    as_alice("mkdir", "-p", str(folder / "plots"))
    as_alice(
        "sh",
        "-c",
        'head -c 1048576 /dev/urandom >"$0/big.bin"; echo "a,b" >"$0/table.csv"; '
        'echo plot >"$0/plots/p.txt"',
        str(folder),
    )
    return folder


def found(tree: Path, expected: dict[str, str]) -> bool:
    """Every expected file's bytes somewhere below ``tree``, under its relative path."""
    hashes = {
        str(path.relative_to(tree)): sha256_file(path) for path in tree.rglob("*") if path.is_file()
    }
    return all(
        any(name.endswith(relative) and sha == digest for name, sha in hashes.items())
        for relative, digest in expected.items()
    )


def local_tree(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): sha256_file(path)
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_export_to_sftp(transfer_hosts: TransferHosts, target: Path, results: Path) -> None:
    remote = f"{transfer_hosts.sftp_export_path}/{target.name}"
    source = sftp(
        transfer_hosts,
        path=remote,
        password=SecretStr(transfer_hosts.sftp_password),
        host_key=transfer_hosts.sftp_host_key,
    )
    run = run_transfer(make_spec(transfer_hosts, source, results, Direction.EXPORT), target)
    assert_done(run)
    assert found(Path(remote), local_tree(results)), run.progress


def test_export_to_webdav(transfer_hosts: TransferHosts, target: Path, results: Path) -> None:
    source = WebDavEndpoint(
        url=transfer_hosts.webdav_url,
        username=transfer_hosts.webdav_user,
        password=SecretStr(transfer_hosts.webdav_password),
        path=f"exports/{target.name}",
    )
    run = run_transfer(make_spec(transfer_hosts, source, results, Direction.EXPORT), target)
    assert_done(run)
    assert found(transfer_hosts.webdav_root / "exports" / target.name, local_tree(results))


def test_export_to_s3(transfer_hosts: TransferHosts, target: Path, results: Path) -> None:
    prefix = f"exports/{target.name}/"
    source = S3Endpoint(
        endpoint_url=transfer_hosts.s3_private_endpoint,
        region=transfer_hosts.s3_region,
        bucket=transfer_hosts.s3_private_bucket,
        prefix=prefix,
        access_key=SecretStr(transfer_hosts.s3_access_key),
        secret_key=SecretStr(transfer_hosts.s3_secret_key),
    )
    run = run_transfer(make_spec(transfer_hosts, source, results, Direction.EXPORT), target)
    assert_done(run)
    client = boto3.client(
        "s3",
        endpoint_url=transfer_hosts.s3_private_endpoint,
        region_name=transfer_hosts.s3_region,
        aws_access_key_id=transfer_hosts.s3_access_key,
        aws_secret_access_key=transfer_hosts.s3_secret_key,
        config=Config(s3={"addressing_style": "path"}),
    )
    listed = client.list_objects_v2(Bucket=transfer_hosts.s3_private_bucket, Prefix=prefix)
    remote = {
        entry["Key"].removeprefix(prefix): hashlib.sha256(
            client.get_object(Bucket=transfer_hosts.s3_private_bucket, Key=entry["Key"])[
                "Body"
            ].read()
        ).hexdigest()
        for entry in listed.get("Contents", [])
    }
    expected = local_tree(results)
    assert all(
        any(key.endswith(name) and sha == digest for key, sha in remote.items())
        for name, digest in expected.items()
    ), remote
    assert_secret_nowhere(run, transfer_hosts.s3_secret_key)


# -- archives ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["good.zip", "good.tar.gz"])
def test_archive_unpacked(transfer_hosts: TransferHosts, target: Path, name: str) -> None:
    url = transfer_hosts.url(f"archives/{name}")
    spec = make_spec(transfer_hosts, UrlEndpoint(items=(UrlItem(url=url),)), target, unpack=True)
    run = run_transfer(spec, target)
    assert_done(run)
    expected = json.loads((transfer_hosts.local_files / "archives" / "good-tree.json").read_text())
    assert {path: sha for path, sha in run.tree().items() if path in expected} == expected
    assert_hers(run)


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        ("slip.zip", {"archive_unsafe"}),
        ("symlink.tar", {"archive_unsafe"}),
        ("abs.tar", {"archive_unsafe"}),
        ("device.tar", {"archive_unsafe"}),
        ("bomb.zip", {"too_large", "archive_unsafe"}),
        ("many.zip", {"too_large", "archive_unsafe"}),
    ],
)
def test_archive_refused(
    transfer_hosts: TransferHosts, target: Path, name: str, errors: set[str]
) -> None:
    url = transfer_hosts.url(f"archives/{name}")
    limits = Limits(max_unpack_bytes=16 * 2**20, max_unpack_files=1000, reserve_bytes=0)
    spec = make_spec(
        transfer_hosts, UrlEndpoint(items=(UrlItem(url=url),)), target, unpack=True, limits=limits
    )
    run = run_transfer(spec, target)
    assert run.state == "failed" and run.progress["error"] in errors, run.progress
    for escaped in ESCAPES:
        assert not os.path.lexists(escaped), escaped
    # Nothing half-unpacked: at most the downloaded archive itself is left.
    leftovers = [str(path.relative_to(target)) for path in target.rglob("*")]
    assert leftovers in ([], [name]), leftovers
