"""The Data tool's settings section: ``[data]`` in the TOML file, ``ONESTOP_DATA__*``
in the environment (README: Bringing data in, for administrators).

Everything a site decides about moving data in and out lives here: where workers
may connect (the address allow-list and schemes), when a transfer leaves the login
node for a Slurm job, the per-person cap, the unpacking limits, the key that keeps
saved secrets encrypted, and the connections the site offers everyone.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from app.settings import Settings

__all__ = ["DataSettings", "SiteConnection", "data_settings"]

GiB = 2**30
SITE_ID = r"^site-[a-z0-9][a-z0-9-]{0,39}$"
MIN_KEY_LENGTH = 32


class SiteConnection(BaseModel):
    """A connection the site offers everyone (the campus object store): people may
    use it by its name, never read its secrets, which stay in the portal's settings
    and are only decrypted into the worker's spec."""

    id: str = Field(pattern=SITE_ID)
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["s3", "sftp", "webdav"]
    # The endpoint's plain fields (endpoint_url, region, bucket, prefix, host, port,
    # username, host_key, url, path), as in managers/data/spec.py.
    fields: dict[str, str | int] = Field(default_factory=dict)
    # access_key/secret_key, password, private_key/key_passphrase.
    secrets: dict[str, SecretStr] = Field(default_factory=dict)


class DataSettings(BaseModel):
    """Where workers may connect, who moves the bytes, and how much at once."""

    # Encrypts the secrets of saved connections (and of a failed transfer kept for
    # Retry). 32 characters at least; empty: nobody may save a connection, and site
    # connections are refused at start. Changing it makes saved secrets unreadable:
    # people then enter them again.
    secret_key: SecretStr = SecretStr("")
    # Address ranges the site opens on purpose (its campus storage), CIDR text: by
    # default loopback, private, link-local and metadata addresses are refused.
    allowed_ranges: list[str] = Field(default_factory=list)
    # URL schemes a source may use.
    schemes: list[str] = Field(default_factory=lambda: ["http", "https"])
    max_redirects: int = Field(default=10, ge=0, le=50)
    # Certificates to trust beyond the system's (a campus CA).
    ca_file: str | None = None
    # A partition on which every transfer runs as a Slurm job of its owner; None:
    # transfers run in her agent unless they are larger than job_threshold_bytes.
    transfer_partition: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    # A transfer known to be larger than this runs as a job (on transfer_partition,
    # or the cluster's default partition).
    job_threshold_bytes: int = Field(default=10 * GiB, ge=0)
    job_time_minutes: int = Field(default=24 * 60, ge=1)
    job_cpus: int = Field(default=1, ge=1, le=64)
    job_memory_mb: int = Field(default=2048, ge=0)
    # Transfers one person may have waiting or running at once.
    max_concurrent_per_person: int = Field(default=4, ge=1, le=100)
    # Unpacking an archive stops at whichever comes first.
    max_unpack_bytes: int = Field(default=50 * GiB, ge=0)
    max_unpack_files: int = Field(default=100_000, ge=0)
    # Free space kept on the target's file system while writing.
    reserve_bytes: int = Field(default=64 * 2**20, ge=0)
    # Ended transfers each person keeps in her list.
    ended_kept: int = Field(default=50, ge=0, le=1000)
    # How often running transfers are asked for their progress.
    poll_seconds: float = Field(default=1.0, gt=0)
    connections: list[SiteConnection] = Field(default_factory=list)

    @field_validator("allowed_ranges")
    @classmethod
    def _ranges(cls, ranges: list[str]) -> list[str]:
        for text in ranges:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"{text!r} is not an address range like 10.20.0.0/16") from None
        return ranges

    @field_validator("schemes")
    @classmethod
    def _schemes(cls, schemes: list[str]) -> list[str]:
        lowered = [scheme.lower() for scheme in schemes]
        if "file" in lowered:
            raise ValueError("file:// would read the portal's own disk; it cannot be enabled")
        return lowered

    @model_validator(mode="after")
    def _keyed(self) -> DataSettings:
        key = self.secret_key.get_secret_value()
        if key and len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"secret_key must be at least {MIN_KEY_LENGTH} characters")
        if self.connections and not key:
            raise ValueError(
                "site connections are configured but secret_key is empty: set "
                "[data] secret_key (or ONESTOP_DATA__SECRET_KEY) to a random string of "
                f"{MIN_KEY_LENGTH}+ characters, e.g. from `openssl rand -hex 32`"
            )
        ids = [connection.id for connection in self.connections]
        if len(ids) != len(set(ids)):
            raise ValueError("two site connections have the same id")
        return self

    @property
    def keyed(self) -> bool:
        return bool(self.secret_key.get_secret_value())


def data_settings(settings: Settings) -> DataSettings:
    return settings.section("data", DataSettings)
