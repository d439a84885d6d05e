"""The files tool's settings section: ``[files]`` in the TOML file,
``ONESTOP_FILES__*`` in the environment (README: Settings)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.settings import Settings


class FileSettings(BaseModel):
    """The file manager's transfers."""

    # The largest file one upload may bring; larger ones are refused before any byte.
    max_upload_bytes: int = Field(default=50 * 1024**3, ge=0)
    # Size of the checked pieces the browser sends (each with its CRC-32); a dropped
    # connection costs at most one piece. Also the most a piece may be.
    chunk_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    # An upload's part file untouched this many days counts as abandoned and is removed
    # when the next upload starts in its folder (no background job); 0 keeps them.
    abandoned_upload_days: int = Field(default=7, ge=0, le=3650)


def file_settings(settings: Settings) -> FileSettings:
    return settings.section("files", FileSettings)
