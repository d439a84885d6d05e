"""What the portal asks a worker to do: one transfer, described completely.

A ``TransferSpec`` is the only document that crosses from the portal to the worker.
The portal builds it in a ``data.*`` verb (after policy, the address allow-list, her
limits and, for a saved connection, decrypting its secret), hands it to her agent
over its socket, and the agent writes it as ``spec.json`` (mode 0600) in the
transfer's own folder; the worker reads it once and removes it, so a secret lives on
disk only until the worker has it, and never in an argv, an environment, a job
script or a log. ``Secret`` fields print as ``**********``.

Validated on both sides (pydantic): the agent refuses a spec the portal should never
have sent, rather than trusting the portal's checks alone.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "TRANSFER_ID",
    "Direction",
    "Endpoint",
    "GitEndpoint",
    "Limits",
    "NetworkRules",
    "S3Endpoint",
    "SftpEndpoint",
    "TransferSpec",
    "UrlEndpoint",
    "UrlItem",
    "WebDavEndpoint",
    "to_wire",
]

TRANSFER_ID = re.compile(r"^[0-9a-f]{16}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Direction(StrEnum):
    IMPORT = "import"  # from the source into her folder
    EXPORT = "export"  # from her file or folder to the source


class UrlItem(Frozen):
    url: str
    # The SHA-256 she pasted beside the URL, lower-case hex; checked when given.
    sha256: str | None = None

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not SHA256.match(value):
            raise ValueError("a SHA-256 is 64 hexadecimal characters")
        return value


class UrlEndpoint(Frozen):
    """HTTP or HTTPS: one file per URL, into the target folder (import only)."""

    kind: Literal["url"] = "url"
    items: tuple[UrlItem, ...] = Field(min_length=1, max_length=1000)


class S3Endpoint(Frozen):
    """S3-compatible object storage: AWS when ``endpoint_url`` is None."""

    kind: Literal["s3"] = "s3"
    endpoint_url: str | None = None
    region: str | None = None
    bucket: str = Field(min_length=1, max_length=255)
    # A "folder" in the bucket ("" for the whole bucket), or one object's key.
    prefix: str = ""
    access_key: SecretStr | None = None  # None: a public bucket, unsigned requests
    secret_key: SecretStr | None = None


class SftpEndpoint(Frozen):
    """SFTP (and so SCP's use) on another machine, through asyncssh."""

    kind: Literal["sftp"] = "sftp"
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr | None = None
    private_key: SecretStr | None = None  # OpenSSH text of the key
    key_passphrase: SecretStr | None = None
    # The host key she accepted ("ssh-ed25519 AAAA..."); None: nothing accepted yet,
    # so the worker only reports the key it was offered and transfers nothing.
    host_key: str | None = None
    path: str = ""  # on the remote machine; "" is her remote home


class WebDavEndpoint(Frozen):
    """WebDAV (ownCloud, Nextcloud): a server URL with an app password, or a public
    share URL (``https://cloud.example.edu/s/<token>``) with no password."""

    kind: Literal["webdav"] = "webdav"
    url: str
    username: str | None = None
    password: SecretStr | None = None
    path: str = ""  # below ``url``


class GitEndpoint(Frozen):
    """A public Git repository over HTTP(S): a shallow clone (import only)."""

    kind: Literal["git"] = "git"
    url: str
    ref: str | None = None  # a branch or tag; None: the default branch


Endpoint = Annotated[
    UrlEndpoint | S3Endpoint | SftpEndpoint | WebDavEndpoint | GitEndpoint,
    Field(discriminator="kind"),
]


class NetworkRules(Frozen):
    """Where the worker may connect (``guard.py`` enforces it on every connection)."""

    # Ranges the site opened on purpose (its campus storage), CIDR text.
    allowed_ranges: tuple[str, ...] = ()
    # Schemes a URL may have; http and https unless the site adds more.
    schemes: tuple[str, ...] = ("http", "https")
    # The portal's own listeners (host, port): never a destination, even when a
    # range that holds them was opened.
    portal_listeners: tuple[tuple[str, int], ...] = ()
    max_redirects: int = Field(default=10, ge=0, le=50)
    # Certificates to trust beyond the system's (a campus CA; the tests' own CA).
    ca_file: str | None = None


class Limits(Frozen):
    """The site's limits for this transfer (the portal's settings, ``[data]``)."""

    # Unpacking an archive stops at whichever comes first.
    max_unpack_bytes: int = Field(default=50 * 2**30, ge=0)
    max_unpack_files: int = Field(default=100_000, ge=0)
    # Keep this much free on the target's file system (and within her quota).
    reserve_bytes: int = Field(default=64 * 2**20, ge=0)


class TransferSpec(Frozen):
    """One transfer, from the portal to the worker."""

    id: str
    owner: str  # the person's user name; the worker refuses to run as anyone else
    direction: Direction
    source: Endpoint
    # Import: the folder she picked (absolute). Export: the file or folder she sends.
    local_path: str
    # Import of an archive (a URL or one object): unpack into local_path afterwards.
    unpack: bool = False
    network: NetworkRules = NetworkRules()
    limits: Limits = Limits()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not TRANSFER_ID.match(value):
            raise ValueError("a transfer id is 16 lower-case hexadecimal characters")
        return value

    @field_validator("local_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "\0" in value:
            raise ValueError("the local path must be absolute")
        return value


def _revealed(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _revealed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_revealed(item) for item in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def to_wire(spec: TransferSpec) -> dict[str, object]:
    """The spec as plain JSON values with its secrets in clear: only for the agent's
    socket and the 0600 ``spec.json`` (``model_dump`` would mask them)."""
    wired = _revealed(spec.model_dump(mode="python"))
    assert isinstance(wired, dict)
    return wired
