"""The Jinja2 environment: autoescaping on, plain-language filters available."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from app.auth.profile import cached_admin
from app.db import REPO_ROOT
from app.security.csrf import csrf_token
from app.security.sessions import SessionState
from app.security.view_as import looker_of, view_of
from app.web import words
from app.web.job_rows import job_rows


def job_names_of(tools: Sequence[Any]) -> words.JobNames:
    """Job names as the tools word them (Tool.claim_job)."""
    return words.JobNames([tool.claim_job for tool in tools if tool.claim_job is not None])


def build_templates(
    tool_folders: Sequence[Path] = (), nav_tools: Sequence[Any] = ()
) -> Jinja2Templates:
    """The portal's own templates first, then each tool's folder (app/tools.py), so a
    tool can use the base page and the partials but never replace them."""
    names = job_names_of(nav_tools)
    env = Environment(
        loader=FileSystemLoader([REPO_ROOT / "templates", *tool_folders]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        node_words=words.node_words,
        partition_words=words.partition_words,
        job_words=words.job_words,
        # A tool's own jobs (a notebook session's) in its words, with its page.
        job_name_words=names.words,
        job_claim=names.claim,
        duration_words=words.duration_words,
        clock_words=words.clock_words,
        memory_words=words.memory_words,
        reason_words=words.reason_words,
        job_rows=job_rows,
        # The tools with a page of their own, in the navigation bar (app/tools.py).
        nav_tools=[tool for tool in nav_tools if tool.url],
        nav_items=[tool for tool in nav_tools if tool.nav_item],
        page_actions=[tool for tool in nav_tools if tool.page_action],
    )
    return Jinja2Templates(env=env)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a full page with the viewer's identity and CSRF token in its context."""
    templates: Jinja2Templates = request.app.state.templates
    state = request.scope.get("onestop.session")  # absent if the error came before it
    identity = state.identity if isinstance(state, SessionState) else None
    page: dict[str, Any] = {"identity": identity}
    if identity is not None:
        looker = looker_of(request.scope)
        page["csrf"] = csrf_token(request.scope)
        # In a view of her portal, the looker's own admin links are not hers.
        page["is_admin"] = cached_admin(request) and looker is None
        page["looker"] = looker
        page["view_as"] = view_of(state.data) if looker is not None and state else None
    page.update(context or {})
    return templates.TemplateResponse(request, name, page, status_code=status_code)


def message_page(
    request: Request,
    heading: str,
    *paragraphs: str,
    status_code: int = 200,
    action_url: str = "",
    action_label: str = "",
    tone: str = "info",
) -> HTMLResponse:
    """A plain page that explains something: no account, signed out, an error."""
    return render(
        request,
        "message.html",
        {
            "heading": heading,
            "paragraphs": paragraphs,
            "action_url": action_url,
            "action_label": action_label,
            "tone": tone,
        },
        status_code=status_code,
    )
