"""The portal's one settings object.

Every knob lives here, read once at start from ``ONESTOP_*`` environment variables
and an optional TOML file (``ONESTOP_CONFIG``, default ``/etc/onestop/onestop.toml``),
and is then passed down explicitly. Nothing reads the environment at import time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("/etc/onestop/onestop.toml")
ENV_PREFIX = "ONESTOP_"

S = TypeVar("S", bound=BaseModel)


class OIDCSettings(BaseModel):
    """The campus identity provider and how its identities map to Unix accounts."""

    issuer: str = "http://127.0.0.1:9000"
    client_id: str = "onestop"
    client_secret: str = "onestop-dev-secret"  # noqa: S105 - the demo provider's secret
    scopes: list[str] = ["openid", "profile", "email", "groups"]
    id_token_algorithms: list[str] = ["RS256"]
    username_claim: str = "preferred_username"
    clock_skew_seconds: int = 60
    http_timeout_seconds: float = 10.0


class SlurmSettings(BaseModel):
    """Where the Slurm client commands are and how often the cluster is watched."""

    # Every Slurm command runs from here, in the portal and in the agents (their
    # launcher hands it on); an absolute path, or the portal refuses to start.
    bin_dir: str = "/usr/bin"
    command_timeout_seconds: float = 20.0
    poll_interval_seconds: float = 2.0
    idle_poll_interval_seconds: float = 6.0
    # The file Slurm's PrologSlurmctld/EpilogSlurmctld hook appends a line to at each
    # job start and end (devcluster/templates/onestop-hook): the portal follows it and
    # reads the cluster at once. Empty: no hook, the watcher's polling alone.
    hook_events: str = ""

    @field_validator("bin_dir")
    @classmethod
    def _absolute(cls, bin_dir: str) -> str:
        from managers.scheduler.slurm.commands import check_bin_dir

        return check_bin_dir(bin_dir)


class MailSettings(BaseModel):
    """The SMTP server the portal sends "your job ended" e-mails through."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 25
    # "none" (plain, for a relay on the same machine), "starttls" (upgrade after
    # connecting, usually port 587) or "tls" (TLS from the start, usually port 465).
    security: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password: str = ""
    from_address: str = "onestop@localhost"
    timeout_seconds: float = 20.0
    # A message that could not be sent is tried again after each of these pauses.
    retry_seconds: list[float] = [30.0, 120.0, 600.0]


class AgentSettings(BaseModel):
    """Per-user agents and the privileged launcher that starts them."""

    runtime_dir: str = "/run/onestop-agents"
    log_dir: str = "/var/log/onestop-agents"
    idle_seconds: float = 600.0
    nice: int = 10
    memory_limit_mb: int = 4096
    heavy_limit: int = 2
    # Partition on which heavy verbs (large copies...) run as a Slurm job step instead
    # of on the login node; empty keeps them in the agent (still capped per person).
    heavy_partition: str = ""
    call_timeout_seconds: float = 60.0
    name_pattern: str = r"^[a-z_][a-z0-9_-]{0,31}$"
    # Agents on another login node, through its gateway (``onestop agent-gateway``):
    # "host:port" plus this portal's client certificate and the site's CA.
    gateway: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""


class Settings(BaseSettings):
    """Everything the portal can be told. Documented key by key in the README."""

    model_config = SettingsConfigDict(
        env_prefix="ONESTOP_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    public_url: str = "http://127.0.0.1:8000"
    bind_host: str = "127.0.0.1"
    bind_port: int = 8000
    trusted_proxies: str = "127.0.0.1"
    database_url: str = "sqlite:////var/lib/onestop/onestop.db"
    event_bus_url: str = "memory://"
    session_lifetime_minutes: int = 8 * 60
    session_idle_minutes: int = 120
    min_uid: int = 1000
    allowed_groups: list[str] = Field(default_factory=list)
    admin_groups: list[str] = ["onestop-admins"]
    admin_recent_login_minutes: int = 30
    project_min_gid: int = 1000
    project_groups_exclude: list[str] = ["users", "onestop-admins"]
    # Members of a project may look at (not cancel) each other's jobs in it.
    project_job_view: bool = False
    # Each project group's shared folder, shown in the file manager ("{project}" is
    # the group's name); a project without such a folder simply shows none.
    project_folder: str = "/srv/projects/{project}"
    # Installed tools (entry points "onestop.wrappers") to leave out, by name.
    disabled_tools: list[str] = Field(default_factory=list)
    login_attempts_per_minute: int = 20
    log_level: str = "INFO"
    log_json: bool = True
    oidc: OIDCSettings = OIDCSettings()
    slurm: SlurmSettings = SlurmSettings()
    agents: AgentSettings = AgentSettings()
    mail: MailSettings = MailSettings()
    # Each tool's own section (``[notebooks]`` in the file, ``ONESTOP_NOTEBOOKS__*`` in
    # the environment), kept as given here and read through the tool's own model by
    # ``section``; create_app checks every one at start.
    sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    _read: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tool_sections(cls, data: Any) -> Any:
        """A table that is not one of the core's is a tool's section."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        sections = dict(data.pop("sections", None) or {})
        for key in [key for key in data if key not in cls.model_fields]:
            value = data[key]
            if isinstance(value, BaseModel):
                value = value.model_dump()
            if isinstance(value, dict):  # anything else stays, and is refused as unknown
                del data[key]
                sections[key] = {**value, **sections.get(key, {})}
        data["sections"] = sections
        return data

    def section(self, name: str, model: type[S]) -> S:
        """The tool ``name``'s settings, read through its own model (once)."""
        read = self._read.get(name)
        if not isinstance(read, model):
            read = model.model_validate(self.sections.get(name, {}))
            self._read[name] = read
        return read

    @field_validator("public_url")
    @classmethod
    def _origin_only(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("public_url must look like https://portal.example.edu")
        return value.rstrip("/")

    @property
    def origin(self) -> str:
        """Scheme, host and port of the portal as the browser sees it: browsers leave
        out a scheme's default port in Origin, so ``https://x:443`` is ``https://x``."""
        parts = urlsplit(self.public_url)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        netloc = parts.netloc
        if parts.port is not None and parts.port == default:
            netloc = netloc.rsplit(":", 1)[0]
        return f"{parts.scheme}://{netloc}"

    @property
    def tls(self) -> bool:
        """Whether the browser reaches the portal over HTTPS (behind nginx, say)."""
        return self.public_url.startswith("https://")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("ONESTOP_CONFIG", str(DEFAULT_CONFIG_FILE)))
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            ToolSectionsFromEnvironment(settings_cls),
        ]
        if config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


class ToolSectionsFromEnvironment(PydanticBaseSettingsSource):
    """``ONESTOP_<TOOL>__<KEY>`` variables for sections the core does not declare (a
    tool's), as nested tables like the TOML file's; a value that reads as JSON (a
    list) is taken as JSON, as pydantic-settings does for the core's own."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        core = set(self.settings_cls.model_fields)
        found: dict[str, Any] = {}
        for name, value in os.environ.items():
            if not name.startswith(ENV_PREFIX) or "__" not in name:
                continue
            path = name.removeprefix(ENV_PREFIX).lower().split("__")
            if path[0] in core or not all(path):
                continue
            table = found
            for part in path[:-1]:
                table = table.setdefault(part, {})
                if not isinstance(table, dict):
                    break
            else:
                table[path[-1]] = _maybe_json(value)
        return found


def _maybe_json(value: str) -> Any:
    if value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; keyword overrides win over the environment and the file."""
    return Settings(**overrides)
