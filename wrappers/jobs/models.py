"""The jobs tool's table: the job composer's saved jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from app.models import utcnow


class JobTemplate(SQLModel, table=True):
    """A saved job (resources and script) to start new ones from: the job composer.

    ``scope`` says who may use it: ``personal`` (its owner), ``project`` (members of
    ``project``, a Unix group) or ``site`` (everyone; only administrators write these).
    The Casbin object is ``template:<scope>/<owner or project>/<id>``.
    """

    __tablename__ = "job_templates"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(default="personal", max_length=16, index=True)
    owner: str = Field(max_length=64, index=True)
    project: str = Field(default="", max_length=64, index=True)
    name: str = Field(max_length=128)
    description: str = Field(default="", sa_type=Text)
    # The submission form's fields other than the script, as JSON.
    fields: str = Field(default="{}", sa_type=Text)
    script: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
