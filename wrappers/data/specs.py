"""From what she typed (and a saved connection) to the worker's ``TransferSpec``.

The one place that knows which of an endpoint's fields are secret, which belong to
a connection and which to one transfer, and how a source is worded in her list.
A connection's own fields (its server, its user) are never taken from the form:
otherwise a site connection's password could be sent to a server she names.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError

from app.settings import Settings
from app.verbs.errors import VerbInvalid
from managers.data.spec import Endpoint, Limits, NetworkRules, UrlItem
from wrappers.data.settings import DataSettings

__all__ = [
    "CONNECTION_FIELDS",
    "SECRET_FIELDS",
    "RemoteFields",
    "build_endpoint",
    "job_for",
    "limits",
    "network_rules",
    "parse_urls",
    "split_endpoint",
    "summary_of",
]

SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "url": (),
    "git": (),
    "s3": ("access_key", "secret_key"),
    "sftp": ("password", "private_key", "key_passphrase"),
    "webdav": ("password",),
}
# Fields a saved connection fixes; the rest (bucket, prefix, path) are the transfer's.
CONNECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "s3": ("endpoint_url", "region"),
    "sftp": ("host", "port", "username", "host_key"),
    "webdav": ("url", "username"),
}
TRANSFER_FIELDS: dict[str, tuple[str, ...]] = {
    "s3": ("bucket", "prefix"),
    "sftp": ("path",),
    "webdav": ("path",),
    "git": ("url", "ref"),
}
# Form field names as the verbs take them, for errors next to the right field.
ENDPOINTS: TypeAdapter[Any] = TypeAdapter(Endpoint)


class RemoteFields(BaseModel):
    """Where the other side is, as the forms send it: a saved connection's id, or the
    fields themselves. Secrets are SecretStr, so no repr or log shows them."""

    connection_id: str = Field(
        default="", pattern=r"^$|^[0-9a-f]{16}$|^site-[a-z0-9][a-z0-9-]{0,39}$"
    )
    endpoint_url: str = Field(default="", max_length=2048)
    region: str = Field(default="", max_length=64)
    bucket: str = Field(default="", max_length=255)
    prefix: str = Field(default="", max_length=1024)
    host: str = Field(default="", max_length=255)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(default="", max_length=64)
    host_key: str = Field(default="", max_length=4096)
    path: str = Field(default="", max_length=4096)
    url: str = Field(default="", max_length=2048)
    ref: str = Field(default="", max_length=255)
    access_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    password: SecretStr = SecretStr("")
    private_key: SecretStr = SecretStr("")
    key_passphrase: SecretStr = SecretStr("")

    def plain(self, name: str) -> Any:
        return getattr(self, name)

    def secret(self, name: str) -> str:
        value: SecretStr = getattr(self, name)
        return value.get_secret_value()


def parse_urls(text: str, schemes: tuple[str, ...] = ("http", "https")) -> list[UrlItem]:
    """One URL a line, optionally followed by its SHA-256 ("https://x/a.tgz 9f86..."):
    the pasted list, checked line by line so a mistake is named by its line."""
    items: list[UrlItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 2:
            raise VerbInvalid(
                f"Line {number} has more than an address and a checksum.",
                fields={"urls": f"Line {number}: one address, then optionally its SHA-256."},
            )
        try:
            items.append(UrlItem(url=parts[0], sha256=parts[1] if len(parts) == 2 else None))
        except ValidationError:
            raise VerbInvalid(
                f"Line {number}: a SHA-256 is 64 hexadecimal characters.",
                fields={"urls": f"Line {number}: a SHA-256 is 64 hexadecimal characters."},
            ) from None
        scheme = urlsplit(parts[0]).scheme.lower()
        starts = " or ".join(f"{name}://" for name in schemes)
        if scheme not in schemes:
            raise VerbInvalid(
                f"Line {number} is not a web address.",
                fields={"urls": f"Line {number}: addresses start with {starts}"},
            )
    if not items:
        raise VerbInvalid("Paste at least one address.", fields={"urls": "Paste an address."})
    return items


def build_endpoint(
    kind: str,
    given: RemoteFields,
    urls: list[UrlItem] | None = None,
    connection: tuple[dict[str, Any], dict[str, str]] | None = None,
) -> Any:
    """The spec's endpoint: a connection's fields and secrets (when one is named),
    the transfer's own fields from the form; VerbInvalid naming the field."""
    values: dict[str, Any] = {"kind": kind}
    if kind == "url":
        values["items"] = urls or []
    elif connection is not None:
        fields, secrets = connection
        fixed = CONNECTION_FIELDS.get(kind, ())
        values.update({key: fields[key] for key in fixed if key in fields})
        for key in TRANSFER_FIELDS.get(kind, ()):
            own = given.plain(key)
            values[key] = own if own not in ("", None) else fields.get(key, "")
        values.update({key: value for key, value in secrets.items() if value})
    else:
        for key in (*CONNECTION_FIELDS.get(kind, ()), *TRANSFER_FIELDS.get(kind, ())):
            values[key] = given.plain(key)
        for key in SECRET_FIELDS.get(kind, ()):
            if given.secret(key):
                values[key] = given.secret(key)
    cleaned = {key: value for key, value in values.items() if value not in ("", None)}
    if kind == "sftp":
        cleaned.setdefault("path", "")
    try:
        return ENDPOINTS.validate_python(cleaned)
    except ValidationError as error:
        fields = {}
        for problem in error.errors():
            where = str(problem["loc"][1] if len(problem["loc"]) > 1 else problem["loc"][0])
            fields.setdefault(where, _words(where, str(problem.get("msg", ""))))
        raise VerbInvalid("Please check the highlighted fields.", fields=fields) from None


def _words(field: str, message: str) -> str:
    if "at least 1" in message or "required" in message.lower():
        return "Please fill this in."
    return message.removeprefix("Value error, ")


def split_endpoint(endpoint: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(plain fields as JSON values, secrets in clear) of an endpoint."""
    dumped = endpoint.model_dump(mode="json")
    secrets = {}
    for key in SECRET_FIELDS.get(dumped["kind"], ()):
        value = getattr(endpoint, key, None)
        dumped.pop(key, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            secrets[key] = value.get_secret_value()
    return dumped, secrets


def rebuild(plain: dict[str, Any], secrets: dict[str, str]) -> Any:
    return ENDPOINTS.validate_python({**plain, **secrets})


def _clean_url(url: str) -> str:
    """A URL for her list: no user:password@, no query (a signed link's token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def summary_of(endpoint: Any) -> str:
    """The other side in a few words, with nothing secret in it."""
    kind = endpoint.kind
    if kind == "url":
        first = _clean_url(endpoint.items[0].url)
        more = len(endpoint.items) - 1
        return first if not more else f"{first} and {more} more"
    if kind == "s3":
        where = f"s3://{endpoint.bucket}/{endpoint.prefix}".rstrip("/")
        if endpoint.endpoint_url:
            where += f" at {_clean_url(endpoint.endpoint_url)}"
        return where
    if kind == "sftp":
        port = "" if endpoint.port == 22 else f" port {endpoint.port}"
        return f"{endpoint.username}@{endpoint.host}:{endpoint.path or '~'}{port}"
    if kind == "webdav":
        return _clean_url(endpoint.url).rstrip("/") + ("/" + endpoint.path if endpoint.path else "")
    ref = f" ({endpoint.ref})" if endpoint.ref else ""
    return f"{_clean_url(endpoint.url)}{ref}"


def network_rules(settings: Settings, config: DataSettings) -> NetworkRules:
    """The allow-list, with the portal's own listeners always refused."""
    public = urlsplit(settings.public_url)
    listeners = {(settings.bind_host, settings.bind_port)}
    if public.hostname:
        listeners.add((public.hostname, public.port or (443 if public.scheme == "https" else 80)))
    return NetworkRules(
        allowed_ranges=tuple(config.allowed_ranges),
        schemes=tuple(config.schemes),
        portal_listeners=tuple(sorted(listeners)),
        max_redirects=config.max_redirects,
        ca_file=config.ca_file,
    )


def limits(config: DataSettings) -> Limits:
    return Limits(
        max_unpack_bytes=config.max_unpack_bytes,
        max_unpack_files=config.max_unpack_files,
        reserve_bytes=config.reserve_bytes,
    )


def job_for(config: DataSettings, size: int | None) -> dict[str, Any] | None:
    """A Slurm job's resources when the transfer leaves the login node: always on a
    transfer partition, else when it is known to be larger than the threshold (on
    the cluster's default partition, ""); None: her agent runs it."""
    if config.transfer_partition:
        partition = config.transfer_partition
    elif size is not None and size > config.job_threshold_bytes:
        partition = ""
    else:
        return None
    return {
        "partition": partition,
        "time_minutes": config.job_time_minutes,
        "cpus": config.job_cpus,
        "memory_mb": config.job_memory_mb,
    }


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
