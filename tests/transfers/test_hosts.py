"""The test hosts themselves: each answers from this machine, across the veth pair.

Before any engine test can mean something, the world it talks to must be real: a
separate network (its address is not this machine's), names that resolve, TLS that
only the test CA makes trusted, and every server doing what the engine's tests will
rely on (redirect hops, Range, the drop, signatures, host keys, WebDAV auth, git).
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
import time
import zipfile
from pathlib import Path

import asyncssh
import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.transfers.hosts import BOMB_BYTES, TransferHosts


def s3(hosts: TransferHosts, endpoint: str, key: str | None = None, secret: str | None = None):  # type: ignore[no-untyped-def]
    if key is None:
        config = Config(signature_version=UNSIGNED, s3={"addressing_style": "path"})
        return boto3.client("s3", endpoint_url=endpoint, region_name=hosts.s3_region, config=config)
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=hosts.s3_region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
        verify=hosts.ca_file,
    )


def test_the_namespace_is_another_network(transfer_hosts: TransferHosts) -> None:
    here = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True)
    there = subprocess.run(
        ["ip", "netns", "exec", transfer_hosts.namespace, "ip", "-o", "addr"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"inet {transfer_hosts.address}/" not in here.stdout
    assert f"inet {transfer_hosts.host_address}/" in here.stdout
    assert f"inet {transfer_hosts.address}/" in there.stdout
    assert f"inet {transfer_hosts.host_address}/" not in there.stdout
    assert socket.gethostbyname(transfer_hosts.hostname) == transfer_hosts.address
    assert socket.gethostbyname(transfer_hosts.loopback_name) == "127.0.0.1"
    assert all(transfer_hosts.processes_alive().values()), transfer_hosts.processes_alive()


def test_https_is_trusted_only_with_the_test_ca(transfer_hosts: TransferHosts) -> None:
    answer = httpx.get(transfer_hosts.url("hello.txt"), verify=transfer_hosts.ssl_context())
    assert answer.text == "Hello from the far side.\n"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(transfer_hosts.url("hello.txt"), verify=ssl.create_default_context())
    big = httpx.get(transfer_hosts.url("data-3m.bin", https=False))
    assert hashlib.sha256(big.content).hexdigest() == transfer_hosts.files["data-3m.bin"]
    # curl, as a person would check it: the CA file is readable by anyone (alice too).
    assert Path(transfer_hosts.ca_file).stat().st_mode & 0o004
    curl = subprocess.run(
        ["curl", "-sf", "--cacert", transfer_hosts.ca_file, transfer_hosts.url("hello.txt")],
        capture_output=True,
        check=True,
    )
    assert curl.stdout == b"Hello from the far side.\n"


def test_redirects_and_range(transfer_hosts: TransferHosts) -> None:
    with httpx.Client(verify=transfer_hosts.ssl_context(), follow_redirects=True) as client:
        chain = client.get(transfer_hosts.redirect_url)
        assert len(chain.history) == 3
        assert str(chain.history[1].url).startswith("https://")
        assert hashlib.sha256(chain.content).hexdigest() == transfer_hosts.files["data-3m.bin"]
        part = client.get(transfer_hosts.url("data-1m.bin"), headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        whole = (transfer_hosts.local_files / "data-1m.bin").read_bytes()
        assert part.content == whole[100:200]
        loop = client.get(transfer_hosts.redirect_loop_url, follow_redirects=False)
        assert loop.headers["location"].endswith("/loop")
    for url, target in (
        (
            transfer_hosts.redirect_to_loopback_url,
            f"http://127.0.0.1:{transfer_hosts.loopback_port}/",
        ),
        (transfer_hosts.redirect_to_loopback_name_url, f"http://{transfer_hosts.loopback_name}:"),
        (transfer_hosts.redirect_to_metadata_url, "http://169.254.169.254/"),
    ):
        assert httpx.get(url).headers["location"].startswith(target)
    # The loopback listener is there to be reached by an SSRF, and only counts hits.
    assert httpx.get(f"http://127.0.0.1:{transfer_hosts.loopback_port}/probe").status_code == 200
    assert "/probe" in transfer_hosts.loopback_hits()


def test_the_slow_location_is_slow(transfer_hosts: TransferHosts) -> None:
    started = time.monotonic()
    answer = httpx.get(transfer_hosts.slow_url("slow-1m.bin"), timeout=30)
    elapsed = time.monotonic() - started
    assert hashlib.sha256(answer.content).hexdigest() == transfer_hosts.files["slow-1m.bin"]
    # 1 MiB at 256 KiB/s: socket buffers let the first few hundred KiB through at once.
    assert elapsed > 2.0


def test_the_dropping_server_cuts_the_first_request_then_serves_ranges(
    transfer_hosts: TransferHosts,
) -> None:
    url = transfer_hosts.drop_url("data-1m.bin")
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as answer:
        assert answer.headers["content-length"] == str(2**20)
        for chunk in answer.iter_bytes():
            received += chunk
    assert len(received) == 2**19
    rest = httpx.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes {2**19}-{2**20 - 1}/{2**20}"
    whole = bytes(received) + rest.content
    assert hashlib.sha256(whole).hexdigest() == transfer_hosts.files["data-1m.bin"]
    seen = transfer_hosts.drop_requests(url)
    assert [entry["status"] for entry in seen] == [200, 206]
    assert seen[1]["range"] == f"bytes={2**19}-"


def test_the_archives(transfer_hosts: TransferHosts) -> None:
    bomb = transfer_hosts.local_files / "archives" / "bomb.zip"
    with zipfile.ZipFile(bomb) as archive:
        assert sum(info.file_size for info in archive.infolist()) > BOMB_BYTES
    assert bomb.stat().st_size < 2**20
    with zipfile.ZipFile(transfer_hosts.local_files / "archives" / "slip.zip") as archive:
        assert any(name.startswith("../") for name in archive.namelist())
    served = httpx.get(transfer_hosts.url("archives/good.zip"), verify=transfer_hosts.ssl_context())
    assert hashlib.sha256(served.content).hexdigest() == transfer_hosts.files["archives/good.zip"]


def test_s3_public_bucket_anonymously(transfer_hosts: TransferHosts) -> None:
    for endpoint in (transfer_hosts.s3_endpoint, transfer_hosts.s3_https_endpoint):
        client = s3(transfer_hosts, endpoint)
        if endpoint.startswith("https"):
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=transfer_hosts.s3_region,
                config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
                verify=transfer_hosts.ca_file,
            )
        listed = client.list_objects_v2(
            Bucket=transfer_hosts.s3_public_bucket, Prefix=transfer_hosts.s3_prefix
        )
        keys = {entry["Key"] for entry in listed["Contents"]}
        assert keys == {key for key in transfer_hosts.s3_objects if key.startswith("dataset/")}
        body = client.get_object(Bucket=transfer_hosts.s3_public_bucket, Key="dataset/b.bin")
        assert (
            hashlib.sha256(body["Body"].read()).hexdigest()
            == transfer_hosts.s3_objects["dataset/b.bin"]
        )
    big = s3(transfer_hosts, transfer_hosts.s3_endpoint).get_object(
        Bucket=transfer_hosts.s3_public_bucket, Key=transfer_hosts.s3_multipart_key
    )
    assert big["ETag"].strip('"').endswith("-3")
    assert hashlib.sha256(big["Body"].read()).hexdigest() == transfer_hosts.s3_multipart_sha256


def test_s3_private_bucket_needs_its_keys(transfer_hosts: TransferHosts) -> None:
    for endpoint in (transfer_hosts.s3_private_endpoint, transfer_hosts.s3_private_https_endpoint):
        client = s3(
            transfer_hosts, endpoint, transfer_hosts.s3_access_key, transfer_hosts.s3_secret_key
        )
        listed = client.list_objects_v2(Bucket=transfer_hosts.s3_private_bucket)
        assert {entry["Key"] for entry in listed["Contents"]} == set(transfer_hosts.s3_objects)
        head = client.head_object(Bucket=transfer_hosts.s3_private_bucket, Key="hello.txt")
        data = (transfer_hosts.local_files / "hello.txt").read_bytes()
        assert head["ETag"].strip('"') == hashlib.md5(data).hexdigest()  # noqa: S324
    wrong = s3(
        transfer_hosts,
        transfer_hosts.s3_private_endpoint,
        transfer_hosts.s3_access_key,
        "not-the-secret",
    )
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        wrong.list_objects_v2(Bucket=transfer_hosts.s3_private_bucket)
    unknown = s3(transfer_hosts, transfer_hosts.s3_private_endpoint, "AKIANOBODY000000", "x")
    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        unknown.list_objects_v2(Bucket=transfer_hosts.s3_private_bucket)


async def test_sftp_with_password_and_key_and_our_host_key(transfer_hosts: TransferHosts) -> None:
    known = asyncssh.import_known_hosts(
        f"{transfer_hosts.sftp_host} {transfer_hosts.sftp_host_key}\n"
    )
    async with (
        asyncssh.connect(
            transfer_hosts.sftp_host,
            transfer_hosts.sftp_port,
            username=transfer_hosts.sftp_user,
            password=transfer_hosts.sftp_password,
            client_keys=None,
            known_hosts=known,
        ) as connection,
        connection.start_sftp_client() as sftp,
    ):
        names = set(await sftp.listdir(transfer_hosts.sftp_data_path))
        assert {"a.csv", "b.bin", "sub"} <= names
    key = asyncssh.import_private_key(transfer_hosts.sftp_private_key)
    async with (
        asyncssh.connect(
            transfer_hosts.sftp_host,
            username=transfer_hosts.sftp_user,
            client_keys=[key],
            known_hosts=known,
        ) as connection,
        connection.start_sftp_client() as sftp,
    ):
        target = f"{transfer_hosts.sftp_export_path}/probe.txt"
        async with sftp.open(target, "w") as handle:
            await handle.write("written over SFTP\n")
        await sftp.remove(target)
        offered = connection.get_server_host_key()
        assert offered is not None
        line = offered.export_public_key().decode().split()
        assert " ".join(line[:2]) == " ".join(transfer_hosts.sftp_host_key.split()[:2])
    stranger = asyncssh.import_private_key(transfer_hosts.sftp_unauthorized_key)
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            transfer_hosts.sftp_host,
            username=transfer_hosts.sftp_user,
            client_keys=[stranger],
            known_hosts=known,
        )
    other = asyncssh.import_known_hosts(
        f"{transfer_hosts.sftp_host} {transfer_hosts.sftp_other_host_key}\n"
    )
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(
            transfer_hosts.sftp_host,
            username=transfer_hosts.sftp_user,
            password=transfer_hosts.sftp_password,
            known_hosts=other,
        )
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-f", "-"],
        input=transfer_hosts.sftp_host_key,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.split()[1] == transfer_hosts.sftp_fingerprint


def test_webdav(transfer_hosts: TransferHosts) -> None:
    auth = (transfer_hosts.webdav_user, transfer_hosts.webdav_password)
    for base in (transfer_hosts.webdav_url, transfer_hosts.webdav_https_url):
        listing = httpx.request(
            "PROPFIND",
            f"{base}/data/",
            auth=auth,
            headers={"Depth": "1"},
            verify=transfer_hosts.ssl_context(),
        )
        assert listing.status_code == 207, listing.text
        assert "a.csv" in listing.text and "b.bin" in listing.text
        got = httpx.get(f"{base}/data/b.bin", auth=auth, verify=transfer_hosts.ssl_context())
        assert hashlib.sha256(got.content).hexdigest() == transfer_hosts.files["folder/b.bin"]
    refused = httpx.request("PROPFIND", f"{transfer_hosts.webdav_url}/", headers={"Depth": "0"})
    assert refused.status_code == 401
    wrong = httpx.request(
        "PROPFIND",
        f"{transfer_hosts.webdav_url}/",
        auth=(transfer_hosts.webdav_user, "no"),
        headers={"Depth": "0"},
    )
    assert wrong.status_code == 401
    put = httpx.put(f"{transfer_hosts.webdav_url}/exports/probe.txt", content=b"probe", auth=auth)
    assert put.status_code in (201, 204)
    assert (transfer_hosts.webdav_root / "exports" / "probe.txt").read_bytes() == b"probe"
    (transfer_hosts.webdav_root / "exports" / "probe.txt").unlink()
    # Nextcloud's public share: the token is the user name, no password.
    share_base = transfer_hosts.webdav_share_url.split("/s/")[0]
    shared = httpx.request(
        "PROPFIND",
        f"{share_base}/public.php/webdav/shared/",
        auth=(transfer_hosts.webdav_share_token, ""),
        headers={"Depth": "1"},
        verify=transfer_hosts.ssl_context(),
    )
    assert shared.status_code == 207, shared.text
    assert "a.csv" in shared.text


def test_git_over_http(transfer_hosts: TransferHosts, tmp_path: Path) -> None:
    for url in (transfer_hosts.git_url, transfer_hosts.git_https_url):
        # GIT_SSL_CAINFO, not -c http.sslCAInfo: this machine's environment sets the
        # variable, which wins over the setting.
        listed = subprocess.run(
            ["git", "ls-remote", url],
            env={**os.environ, "GIT_SSL_CAINFO": transfer_hosts.ca_file},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        refs = {line.split("\t")[1]: line.split("\t")[0] for line in listed.splitlines()}
        assert refs["refs/heads/main"] == transfer_hosts.git_commits["main"]
        assert (
            refs[f"refs/heads/{transfer_hosts.git_branch}"]
            == transfer_hosts.git_commits[transfer_hosts.git_branch]
        )
        assert f"refs/tags/{transfer_hosts.git_tag}" in refs
    clone = tmp_path / "clone"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            transfer_hosts.git_tag,
            transfer_hosts.git_url,
            str(clone),
        ],
        check=True,
        capture_output=True,
    )
    files = {
        str(path.relative_to(clone)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in clone.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(clone).parts
    }
    assert files == transfer_hosts.git_trees[transfer_hosts.git_tag]
