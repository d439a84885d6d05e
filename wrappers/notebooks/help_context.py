"""What a notebook session's page shows, for someone helping (``Tool.page_context``):
its state, its job and the tail of the server's log, read as the viewer through
verbs. Its one-time codes and the server's token never leave the portal's tables, and
the help tool takes any ``token=`` the log printed out of the section."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.requests import Request

from app.tools import ContextSection
from app.verbs import VerbError
from wrappers.request import verb_gate, viewer

SESSION_PAGE = re.compile(r"^/notebooks/sessions/([^/]+)$")
TAIL_BYTES = 4096
TAIL_LINES = 40


async def page_context(request: Request, page: str) -> list[ContextSection]:
    found = SESSION_PAGE.match(urlsplit(page).path)
    if found is None:
        return []
    gate, identity = verb_gate(request), viewer(request)
    session = await gate.call(identity, "notebooks.show", session_id=found.group(1))
    sections = [
        ContextSection(
            "notebook",
            f"Notebook session {session.label}",
            f"State: {session.state.value}\nEnded because: {session.ended_reason or '-'}\n"
            f"Job: {session.job_id or 'none yet'}\nPartition: {session.partition}\n"
            f"Asked for: {session.cores} cores, {session.memory_mb} MB, "
            f"{session.time_minutes} minutes\nFolder: {session.folder}\n"
            f"Waiting because: {session.queue_reason or '-'}\nNode: {session.node or '-'}",
        )
    ]
    if session.job_id:
        try:
            job = (await gate.call(identity, "jobs.show", job_id=session.job_id)).job
            opened = await gate.call(identity, "files.read", path=job.stderr or job.stdout)
            text, _cut = opened.tail(TAIL_BYTES)
            lines = "\n".join(text.splitlines()[-TAIL_LINES:])
            sections.append(ContextSection("notebook.log", "The end of its log", lines))
        except VerbError:
            pass  # the job left the queue, or no log yet: no section
    return sections
