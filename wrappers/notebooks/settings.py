"""The notebooks tool's settings section: ``[notebooks]`` in the TOML file,
``ONESTOP_NOTEBOOKS__*`` in the environment (README: Settings)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.settings import Settings


class NotebookSettings(BaseModel):
    """Jupyter sessions: where Jupyter is installed and how the portal's proxy reaches it."""

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


def notebook_settings(settings: Settings) -> NotebookSettings:
    return settings.section("notebooks", NotebookSettings)
