"""What the Data page shows, for someone helping (``Tool.page_context``): a transfer's
source, state and error, read as the viewer through ``data.show`` / ``data.list``.
The transfer named in the address (``/data?transfer=<id>``), else her three newest
that did not end well. Saved connections' secrets are never in a transfer's view."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from app.tools import ContextSection
from wrappers.request import verb_gate, viewer

NEWEST = 3


def _section(t: Any) -> ContextSection:
    text = (
        f"{'Import from' if t.direction == 'import' else 'Export to'}: {t.summary} ({t.kind})\n"
        f"Folder: {t.local_path}\nState: {t.state.value}\n"
        f"Error: {t.message or '-'} {f'({t.error})' if t.error else ''}\n"
        f"Runs as: {t.runs_as}{f', job {t.job_id}' if t.job_id else ''}; retried {t.retries} times"
    )
    return ContextSection(f"transfer.{t.id}", f"Transfer {t.id}", text)


async def page_context(request: Request, page: str) -> list[ContextSection]:
    parts = urlsplit(page)
    if parts.path != "/data":
        return []
    gate, identity = verb_gate(request), viewer(request)
    named = (parse_qs(parts.query).get("transfer") or [""])[0]
    if named:
        return [_section(await gate.call(identity, "data.show", transfer_id=named))]
    listed = await gate.call(identity, "data.list")
    unwell = [t for t in listed.transfers if t.state.value != "done"]
    return [_section(t) for t in unwell[:NEWEST]]
