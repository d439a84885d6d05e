"""The notebooks tool's settings section: ``[notebooks]`` in the TOML file,
``ONESTOP_NOTEBOOKS__*`` in the environment (README: Settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.settings import Settings

# A DNS name in lower case, with at least one dot (no port, no scheme).
LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = rf"^({LABEL}\.)+{LABEL}$"


class NotebookSettings(BaseModel):
    """Jupyter sessions: where Jupyter is installed, where browsers reach each session
    (an origin of its own), and how the portal's proxy reaches it."""

    # The shared Jupyter environment every session runs from (scripts/install-jupyter.sh).
    jupyter_env: str = "/opt/onestop/jupyter"
    # How long the proxy waits to connect to a session's server, and for the next bytes
    # of an answer once connected (a silent server is given up on after this).
    proxy_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    proxy_read_timeout_seconds: float = Field(default=300.0, gt=0)
    # How long the readiness probe waits for Jupyter's status answer.
    probe_timeout_seconds: float = Field(default=5.0, gt=0)
    # The start form's defaults, so one click starts a session ("" partition: the
    # cluster's default partition; 0 memory: the partition's default).
    default_cores: int = Field(default=1, ge=1, le=256)
    default_memory_mb: int = Field(default=1024, ge=0)
    default_hours: float = Field(default=1.0, gt=0)
    default_partition: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")
    # Ended sessions each person keeps in her list (older ones are forgotten).
    ended_kept: int = Field(default=10, ge=0, le=1000)
    # Where browsers reach a session: each at a host of its own under ``domain``
    # (``<session id>.<domain>``: wildcard DNS and certificate), never on the portal's
    # origin. The default works only in a browser on the portal's own machine (every
    # ``*.localhost`` name is loopback there): the demo and the tests.
    domain: str = Field(default="nb.localhost", max_length=200, pattern=HOST_NAME)
    # The weaker choice for a site without wildcards: every session under
    # ``/notebooks/<id>/`` of this one host (not the portal's). Empty: ``domain``.
    host: str = Field(default="", max_length=253, pattern=f"^$|{HOST_NAME}")
    # The notebook origins' scheme and port as browsers use them; empty and 0 take
    # the portal's (``public_url``).
    scheme: Literal["", "http", "https"] = ""
    port: int = Field(default=0, ge=0, le=65535)
    # A proxy in front (nginx's auth_request) may ask the portal to decide for it at
    # /_onestop/auth on a notebook origin, sending this key; empty: no such endpoint.
    auth_request_key: str = Field(default="", max_length=256)


def notebook_settings(settings: Settings) -> NotebookSettings:
    return settings.section("notebooks", NotebookSettings)
