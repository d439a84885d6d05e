"""Saved jobs (the job composer's templates) in the portal database.

Only the verbs in wrappers/jobs/verbs/templates.py use this store, through ``services``: the
gate has already asked Casbin about the template, so the store itself decides
nothing about who may do what. It only reads and writes rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import transaction
from app.models import utcnow
from wrappers.jobs.models import JobTemplate

SITE_OWNER = "onestop"
"""The owner written on the example site templates the portal ships."""

# A fresh site gets these, so the composer is never empty on the first day. They are
# ordinary site templates afterwards: admins may edit or delete them.
EXAMPLES: tuple[dict[str, Any], ...] = (
    {
        "name": "Hello world",
        "description": "The smallest job: prints where it ran. A good first try.",
        "fields": {"name": "hello", "time_minutes": 5},
        "script": '#!/bin/bash\necho "Hello from $(hostname)"\ndate\n',
    },
    {
        "name": "Python script",
        "description": "Runs a Python program from your working folder. Change my_program.py "
        "to the name of your file.",
        "fields": {"name": "python", "time_minutes": 30, "cpus_per_task": 1},
        "script": "#!/bin/bash\n# Runs my_program.py from the working folder.\n"
        "python3 my_program.py\n",
    },
    {
        "name": "Array of 10 tasks",
        "description": "Runs the same commands 10 times, each with its own task number "
        "($SLURM_ARRAY_TASK_ID), for example one input file per task.",
        "fields": {"name": "array", "time_minutes": 10, "array": "1-10"},
        "script": '#!/bin/bash\necho "Task $SLURM_ARRAY_TASK_ID of the array, on $(hostname)"\n'
        "sleep 5\n",
    },
)


class TemplateStore:
    """Rows of ``job_templates``; every method is one short transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, template_id: int) -> JobTemplate | None:
        async with self._sessions() as db:
            return await db.get(JobTemplate, template_id)

    async def visible(self, owner: str, projects: Iterable[str]) -> list[JobTemplate]:
        """``owner``'s personal templates, the project templates of ``projects`` and
        every site template, by scope then name (the caller still asks policy)."""
        wanted = [
            (col(JobTemplate.scope) == "personal") & (col(JobTemplate.owner) == owner),
            col(JobTemplate.scope) == "site",
        ]
        projects = sorted(set(projects))
        if projects:
            wanted.append(
                (col(JobTemplate.scope) == "project") & col(JobTemplate.project).in_(projects)
            )
        async with self._sessions() as db:
            rows = await db.exec(
                select(JobTemplate)
                .where(or_(*wanted))
                .order_by(col(JobTemplate.name), col(JobTemplate.id))
            )
            return list(rows.all())

    async def create(self, **values: Any) -> JobTemplate:
        record = JobTemplate(**_encoded(values))
        async with transaction(self._sessions) as db:
            db.add(record)
        return record

    async def update(self, template_id: int, **values: Any) -> JobTemplate | None:
        """Change name, description, fields and script; scope, owner and project stay."""
        async with transaction(self._sessions) as db:
            record = await db.get(JobTemplate, template_id)
            if record is None:
                return None
            for key, value in _encoded(values).items():
                if key in ("name", "description", "fields", "script"):
                    setattr(record, key, value)
            record.updated_at = utcnow()
            db.add(record)
        return record

    async def delete(self, template_id: int) -> bool:
        async with transaction(self._sessions) as db:
            record = await db.get(JobTemplate, template_id)
            if record is None:
                return False
            await db.delete(record)
        return True

    async def seed_examples(self) -> int:
        """Write the example site templates if the site has none; how many were written.

        Runs at start. Deleting every site template brings the examples back at the
        next start, so a site that wants none keeps one of its own.
        """
        async with transaction(self._sessions) as db:
            connection = await db.connection()
            if connection.dialect.name == "postgresql":
                # Instances starting together seed once.
                await connection.execute(text("LOCK TABLE job_templates IN EXCLUSIVE MODE"))
            found = await db.exec(
                select(col(JobTemplate.id)).where(col(JobTemplate.scope) == "site").limit(1)
            )
            if found.first() is not None:
                return 0
            for example in EXAMPLES:
                db.add(JobTemplate(**_encoded({"scope": "site", "owner": SITE_OWNER, **example})))
        return len(EXAMPLES)


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    """``fields`` is kept as JSON text; everything else as it is."""
    if isinstance(values.get("fields"), dict):
        values = {**values, "fields": json.dumps(values["fields"], sort_keys=True)}
    return values


def decoded_fields(record: JobTemplate) -> dict[str, Any]:
    """The stored form fields, or none if the JSON was damaged by hand."""
    try:
        fields = json.loads(record.fields or "{}")
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}
