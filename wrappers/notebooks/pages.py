"""The notebook pages: the list with the start form, a session's page, stopping, and
opening a ``.ipynb`` from the file manager.

Jupyter itself is served on each session's own origin (``proxy``); on the portal,
``/notebooks/<16 hex>/...`` only leads to Connect. These pages use ``/notebooks``,
``/notebooks/sessions/...`` and ``/notebooks/open``, which can never be taken for a
session id.
"""

from __future__ import annotations

import posixpath
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from app.auth.next_url import safe_next
from app.security.csrf import csrf_token
from app.verbs import ErrorKind, VerbError, VerbInvalid
from app.web.errors import status_of
from app.web.templating import message_page, render
from wrappers.files.verbs.manage import home_of
from wrappers.notebooks.settings import notebook_settings
from wrappers.notebooks.states import SessionState
from wrappers.request import verb_gate, viewer

# Form fields in the units people think in; the verb takes cores, MB and minutes.
FORM_FIELDS = ("label", "interface", "folder", "cores", "memory_gb", "hours", "partition")


def _defaults(request: Request) -> dict[str, str]:
    config = notebook_settings(request.app.state.settings)
    return {
        "label": "",
        "interface": "lab",
        "folder": "",
        "cores": str(config.default_cores),
        "memory_gb": _number(config.default_memory_mb / 1024),
        "hours": _number(config.default_hours),
        "partition": config.default_partition,
    }


def _number(value: float) -> str:
    """``1`` rather than ``1.0`` in a form field."""
    return str(int(value)) if float(value).is_integer() else str(value)


async def _sessions(request: Request) -> tuple[list[Any], bool]:
    listed = await verb_gate(request).call(viewer(request), "notebooks.list")
    return listed.sessions, listed.reachable


async def _page(
    request: Request,
    template: str,
    form: dict[str, str],
    fields: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
    **extra: Any,
) -> Response:
    identity = viewer(request)
    view = await verb_gate(request).call(identity, "cluster.snapshot")
    sessions, reachable = await _sessions(request)
    return render(
        request,
        template,
        {
            "active": "notebooks",
            "sessions": sessions,
            "reachable": reachable,
            "form": form,
            "fields": fields or {},
            "error": error,
            "home": home_of(identity.unix_name),
            "partitions": view.snapshot.partitions if view.snapshot else [],
            # One token per form shown: a double click starts one session.
            "token": form.get("token") or f"{int(time.time())}-{secrets.token_hex(12)}",
            **extra,
        },
        status_code=status,
    )


async def notebook_list(request: Request) -> Response:
    """Her sessions and the start form; ``?folder=`` fills in where to start."""
    form = _defaults(request)
    form["folder"] = request.query_params.get("folder", "")[:4096]
    return await _page(request, "notebooks/list.html", form)


async def sessions_fragment(request: Request) -> Response:
    """The list alone, for a tab catching up when its live connection opens."""
    sessions, _ = await _sessions(request)
    template = request.app.state.templates.get_template("notebooks/_sessions.html")
    return HTMLResponse(template.render(sessions=sessions, csrf=csrf_token(request.scope)))


def _arguments(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The verb's arguments from the form, or what is wrong with which field."""
    fields: dict[str, str] = {}
    arguments: dict[str, Any] = {
        key: form[key] for key in ("label", "interface", "folder", "partition", "token")
    }
    try:
        arguments["cores"] = int(form["cores"] or 1)
    except ValueError:
        fields["cores"] = "Please enter a whole number."
    try:
        arguments["memory_mb"] = round(float(form["memory_gb"] or 0) * 1024)
    except ValueError:
        fields["memory_gb"] = "Please enter a number, like 2 or 0.5."
    try:
        minutes = round(float(form["hours"] or 0) * 60)
        if minutes < 1:
            fields["hours"] = "Please ask for at least a few minutes (0.25 is 15 minutes)."
        arguments["time_minutes"] = minutes
    except ValueError:
        fields["hours"] = "Please enter a number of hours, like 1 or 0.5."
    return arguments, fields


# The verb's field names, as the form calls them.
FIELD_NAMES = {"memory_mb": "memory_gb", "time_minutes": "hours"}


async def start(request: Request) -> Response:
    posted = await request.form()
    form = {key: str(posted.get(key, default)) for key, default in _defaults(request).items()}
    form["token"] = str(posted.get("token", ""))
    template = "notebooks/open.html" if posted.get("opening") else "notebooks/list.html"
    extra = {"opening": str(posted.get("opening", "")), "name": "a notebook", "waiting": []}
    arguments, fields = _arguments(form)
    if fields:
        message = "Please check the highlighted fields."
        return await _page(request, template, form, fields, message, 400, **extra)
    try:
        started = await verb_gate(request).call(viewer(request), "notebooks.start", **arguments)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise  # not about what she typed: the page that offers to try again
        # Refused as asked (a field, or her agent's reason): said above her form.
        fields = error.fields if isinstance(error, VerbInvalid) else {}
        named = {FIELD_NAMES.get(key, key): text for key, text in fields.items()}
        status = status_of(error.kind)
        return await _page(request, template, form, named, error.message, status, **extra)
    return RedirectResponse(f"/notebooks/sessions/{started.id}", status_code=303)


async def _session(request: Request) -> Any:
    """The session if the viewer may see it (its owner), else None: not found and
    not allowed look alike. An outage is no answer about the session: it goes on to
    its page (app/web/errors.py)."""
    try:
        return await verb_gate(request).call(
            viewer(request), "notebooks.show", session_id=request.path_params["session_id"]
        )
    except VerbError as error:
        if error.kind in NO_SUCH:
            return None
        raise


# A session that is not there, not hers, or not a session id look alike.
NO_SUCH = frozenset({ErrorKind.NOT_FOUND, ErrorKind.DENIED, ErrorKind.INVALID})


def no_such_session(request: Request) -> Response:
    return message_page(
        request,
        "No such notebook session of yours",
        "This session does not exist, or it is not yours.",
        status_code=404,
        action_url="/notebooks",
        action_label="Back to your notebooks",
        tone="error",
    )


async def session_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return no_such_session(request)
    return render(request, "notebooks/session.html", {"active": "notebooks", "s": session})


async def session_fragment(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return HTMLResponse("", status_code=404)
    template = request.app.state.templates.get_template("notebooks/_session.html")
    return HTMLResponse(template.render(s=session, csrf=csrf_token(request.scope)))


async def stop(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    asked = str((await request.form()).get("back", ""))
    back = safe_next(asked) if asked else f"/notebooks/sessions/{session_id}"
    # A refusal or an outage is answered by the portal's page for its kind.
    await verb_gate(request).call(viewer(request), "notebooks.stop", session_id=session_id)
    return RedirectResponse(back, status_code=303)


def file_address(session: Any, home: str, path: str) -> str:
    """Where Jupyter opens ``path`` (inside her home) in ``session``: through Connect,
    on the session's own origin."""
    relative = quote(posixpath.relpath(path, home))
    inside = "lab/tree" if session.interface == "lab" else "notebooks"
    where = f"/notebooks/{session.id}/{inside}/{relative}"
    return f"/notebooks/sessions/{session.id}/connect?" + urlencode({"next": where})


async def open_file(request: Request) -> Response:
    """A ``.ipynb`` from the file manager: opened in her ready session (the newest),
    or the start form for a session in its folder."""
    identity = viewer(request)
    path = posixpath.normpath(request.query_params.get("path", "/"))
    home = home_of(identity.unix_name).rstrip("/")
    name = posixpath.basename(path)
    if not path.startswith(home + "/") or not name.endswith(".ipynb"):
        return message_page(
            request,
            "This file cannot open in a notebook",
            "Notebooks open .ipynb files inside your home folder. Copy the file into your "
            "home folder first, then open it from there.",
            status_code=400,
            action_url="/files",
            action_label="Back to your files",
            tone="error",
        )
    sessions, _ = await _sessions(request)
    ready = [s for s in sessions if s.state == SessionState.READY]
    if ready:
        return RedirectResponse(file_address(ready[0], home, path), status_code=303)
    form = _defaults(request)
    form["folder"] = posixpath.dirname(path)
    waiting = [s for s in sessions if s.state.is_waiting]
    return await _page(
        request, "notebooks/open.html", form, opening=path, name=name, waiting=waiting
    )


routes = [
    Route("/notebooks", notebook_list, methods=["GET"]),
    Route("/notebooks", start, methods=["POST"]),
    Route("/notebooks/open", open_file, methods=["GET"]),
    Route("/notebooks/sessions", sessions_fragment, methods=["GET"]),
    Route("/notebooks/sessions/{session_id:str}", session_page, methods=["GET"]),
    Route("/notebooks/sessions/{session_id:str}/status", session_fragment, methods=["GET"]),
    Route("/notebooks/sessions/{session_id:str}/stop", stop, methods=["POST"]),
]
