"""SFTP (and so what SCP is used for) on another machine, through sshfs/asyncssh.

The server's host key is the only thing that tells her machine apart from an
impostor, so nothing moves until she has accepted one: without ``host_key`` the
worker fetches the key the server offers and reports it (``host_key_unknown``) for
her to compare with the fingerprint her administrators publish; with it, only that
key is trusted, and a different one is refused as a changed key. Her own SSH
configuration, agent and default keys are not used: the portal's form is the whole
truth of what signs in.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncssh
from sshfs import SSHFileSystem

from managers.data.context import TransferError, Work
from managers.data.guard import Guard
from managers.data.sources import tree
from managers.data.spec import NetworkRules, SftpEndpoint

__all__ = ["HostKeyUnknown", "browse", "fetch", "offered_key", "send"]


class HostKeyUnknown(TransferError):
    """No key accepted yet: ``key`` and ``fingerprint`` are what the server offered."""

    def __init__(self, key: str, fingerprint: str) -> None:
        super().__init__(
            "host_key_unknown",
            "This server's key has not been accepted yet. Compare its fingerprint "
            f"{fingerprint} with the one its administrators publish, and accept it.",
            key=key,
            fingerprint=fingerprint,
        )


async def _address(endpoint: SftpEndpoint, guard: Guard) -> str:
    """The checked address to connect to (so a name that changes cannot move it)."""
    return (await asyncio.to_thread(guard.resolve, endpoint.host, endpoint.port))[0]


async def offered_key(endpoint: SftpEndpoint, guard: Guard) -> HostKeyUnknown:
    address = await _address(endpoint, guard)
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(address, endpoint.port, config=None), 30
        )
    except (OSError, asyncssh.Error, TimeoutError) as error:
        raise TransferError(
            "network", f"{endpoint.host} port {endpoint.port} did not answer as an SSH server."
        ) from error
    if key is None:
        raise TransferError("network", f"{endpoint.host} offered no host key.")
    text = key.export_public_key("openssh").decode().strip()
    text = " ".join(text.split()[:2])  # no comment
    return HostKeyUnknown(text, key.get_fingerprint("sha256"))


async def filesystem(endpoint: SftpEndpoint, guard: Guard) -> SSHFileSystem:
    if endpoint.host_key is None:
        raise await offered_key(endpoint, guard)
    try:
        trusted = asyncssh.import_public_key(endpoint.host_key)
    except (ValueError, asyncssh.KeyImportError) as error:
        raise TransferError("auth", "The accepted host key cannot be read.") from error
    address = await _address(endpoint, guard)
    options: dict[str, Any] = {
        "port": endpoint.port,
        "username": endpoint.username,
        "known_hosts": ([trusted], [], []),
        "config": None,
        "agent_path": None,
        "client_keys": None,
        "password": None,
        "connect_timeout": 30,
    }
    if endpoint.private_key is not None:
        try:
            options["client_keys"] = [
                asyncssh.import_private_key(
                    endpoint.private_key.get_secret_value(),
                    endpoint.key_passphrase.get_secret_value() if endpoint.key_passphrase else None,
                )
            ]
        except (ValueError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as error:
            raise TransferError(
                "auth", "The private key could not be read (or its passphrase is wrong)."
            ) from error
    if endpoint.password is not None:
        options["password"] = endpoint.password.get_secret_value()

    def build() -> SSHFileSystem:
        return SSHFileSystem(address, skip_instance_cache=True, **options)

    try:
        return await asyncio.to_thread(build)
    except asyncssh.HostKeyNotVerifiable as error:
        raise TransferError(
            "auth",
            f"The host key of {endpoint.host} changed since you accepted it, so nothing was "
            "moved. Ask its administrators whether that is expected.",
        ) from error
    except asyncssh.PermissionDenied as error:
        raise TransferError(
            "auth", f"{endpoint.host} did not accept the user name and password or key."
        ) from error


def _remote(fs: SSHFileSystem, path: str) -> str:
    """A path on the server; "" (or relative) is below her remote home."""
    if path.startswith("/"):
        return path.rstrip("/") or "/"

    async def home() -> str:
        async with fs._pool.get() as channel:
            return str(await channel.realpath("."))

    from fsspec.asyn import sync

    base = str(sync(fs.loop, home))
    return f"{base.rstrip('/')}/{path.strip('/')}".rstrip("/") or "/"


async def fetch(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, SftpEndpoint)
    fs = await filesystem(endpoint, work.guard)
    root = await asyncio.to_thread(_remote, fs, endpoint.path)
    top = root.rstrip("/").rpartition("/")[2] or endpoint.host
    await asyncio.to_thread(tree.import_tree, work, fs, root, top, lambda _info: None, None)


async def send(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, SftpEndpoint)
    fs = await filesystem(endpoint, work.guard)
    root = await asyncio.to_thread(_remote, fs, endpoint.path)

    def arrived(remote: str, digest: str | None, size: int) -> str:
        if int(fs.info(remote).get("size") or 0) != size:
            raise TransferError("network", f"{remote} arrived with the wrong size.")
        return "size"

    await asyncio.to_thread(tree.export_tree, work, fs, root, arrived, None, True)


async def browse(request: dict[str, Any], guard: Guard) -> dict[str, Any]:
    endpoint = SftpEndpoint.model_validate(request["endpoint"])
    NetworkRules.model_validate(request.get("network") or {})
    fs = await filesystem(endpoint, guard)
    root = await asyncio.to_thread(_remote, fs, str(request.get("path") or endpoint.path))
    return {"entries": await asyncio.to_thread(tree.listing, fs, root), "path": root}
