"""The Help pages: "Get help" (the form, filled with the page's context), "My
questions", one question's thread, and the staff queue.

Forms post plainly and come back to a page; a mistake is said next to its field with
what she typed kept. Each section of context is shown with a checkbox: a section she
unticks is not sent, so it is never stored. Refusals and outages are answered by the
portal's pages for them (app/web/errors.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from app.auth.profile import viewer_profile
from app.security.sessions import session_of
from app.security.view_as import open_view
from app.tools import ContextSection
from app.verbs import ErrorKind, VerbError, VerbInvalid
from app.web.errors import status_of
from app.web.templating import message_page, render
from wrappers.help.context import page_sections, safe_page
from wrappers.help.service import Help
from wrappers.help.text import markdown
from wrappers.help.views import STATE_WORDS
from wrappers.request import own, verb_gate, viewer

NO_SUCH = frozenset({ErrorKind.NOT_FOUND, ErrorKind.DENIED, ErrorKind.INVALID})


async def _is_staff(request: Request) -> bool:
    return await verb_gate(request).allowed(viewer(request), "help.queue")


async def _form(
    request: Request,
    page: str,
    sections: list[ContextSection],
    form: dict[str, Any] | None = None,
    fields: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    return render(
        request,
        "help/new.html",
        {
            "active": "help",
            "page": page,
            "sections": sections,
            "form": form or {},
            "fields": fields or {},
            "error": error,
            "projects": (await viewer_profile(request)).projects,
        },
        status_code=status,
    )


async def new_form(request: Request) -> Response:
    page = safe_page(request.query_params.get("page", ""))
    return await _form(request, page, await page_sections(request, page))


async def ask(request: Request) -> Response:
    form = await request.form()
    page = safe_page(str(form.get("page", "")))
    # The context is read again, as her, now: what the browser sends back is only her
    # choice of sections, never their text, so nothing she did not see can be added.
    offered = await page_sections(request, page)
    kept = set(form.getlist("keep"))
    chosen = [s for s in offered if s.key in kept]
    attachments = [line.strip() for line in str(form.get("attachments", "")).splitlines()]
    try:
        made = await verb_gate(request).call(
            viewer(request),
            "help.ask",
            title=str(form.get("title", "")),
            text=str(form.get("text", "")),
            project=str(form.get("project", "")),
            sections=[{"key": s.key, "title": s.title, "text": s.text} for s in chosen],
            attachments=[a for a in attachments if a],
            consent=form.get("consent") == "on",
            page=page,
        )
    except VerbInvalid as error:
        values = {k: str(v) for k, v in form.items()}
        return await _form(request, page, offered, values, error.fields, error.message, 400)
    return RedirectResponse(f"/help/{made.id}", status_code=303)


async def mine(request: Request) -> Response:
    listed = await verb_gate(request).call(viewer(request), "help.mine")
    return render(
        request,
        "help/mine.html",
        {
            "active": "help",
            "tickets": listed.tickets,
            "state_words": STATE_WORDS,
            "is_staff": await _is_staff(request),
        },
    )


def _not_found(request: Request) -> Response:
    return message_page(
        request,
        "No such question",
        "This question does not exist, or it is not yours to see.",
        status_code=404,
        action_url="/help",
        action_label="Back to your questions",
        tone="error",
    )


async def ticket_page(request: Request, error: str = "", status: int = 200) -> Response:
    identity = viewer(request)
    gate = verb_gate(request)
    try:
        view = await gate.call(identity, "help.show", ticket_id=request.path_params["ticket_id"])
    except VerbError as failure:
        if failure.kind in NO_SUCH:
            return _not_found(request)
        raise
    canned = (await gate.call(identity, "help.canned")).answers if view.staff_view else []
    # A canned answer fills the reply box, to be read and changed before sending.
    chosen = request.query_params.get("canned", "")
    prefill = canned[int(chosen)].text if chosen.isdigit() and int(chosen) < len(canned) else ""
    return render(
        request,
        "help/ticket.html",
        {
            "active": "help",
            "ticket": view,
            "state_words": STATE_WORDS,
            "canned": canned,
            "mine": view.author == identity.unix_name,
            # Whoever may answer may add a picture; a read-only view may not.
            "can_add_screenshot": view.author == identity.unix_name or view.staff_view,
            "admins_view_without_consent": own(request, Help).settings.admins_view_without_consent,
            "error": error,
            "prefill": prefill,
            "markdown": markdown,
        },
        status_code=status,
    )


async def act(request: Request) -> Response:
    """Reply, note, assign, state or consent: one verb each, then back to the thread."""
    ticket_id = request.path_params["ticket_id"]
    action = request.path_params["action"]
    form = await request.form()
    arguments: dict[str, Any] = {"ticket_id": ticket_id}
    verb = {
        "reply": "help.reply",
        "note": "help.note",
        "assign": "help.assign",
        "state": "help.state",
        "consent": "help.consent",
    }.get(action)
    if verb is None:
        return _not_found(request)
    if action in ("reply", "note"):
        arguments["text"] = str(form.get("text", ""))
    elif action == "state":
        arguments["state"] = str(form.get("state", ""))
    elif action == "consent":
        arguments["consent"] = form.get("consent") == "on"
    try:
        await verb_gate(request).call(viewer(request), verb, **arguments)
    except VerbInvalid as error:
        return await ticket_page(request, error.message, status_of(error.kind))
    except VerbError as error:
        if error.kind in (ErrorKind.NOT_FOUND, ErrorKind.DENIED):
            return _not_found(request)
        raise
    return RedirectResponse(f"/help/{ticket_id}", status_code=303)


async def see_what_she_sees(request: Request) -> Response:
    """Staff open a read-only view of her portal for VIEW_MINUTES, while she consents
    (help.view decides now and on every request of the view)."""
    ticket_id = request.path_params["ticket_id"]
    identity = viewer(request)
    try:
        shown = await verb_gate(request).call(identity, "help.view", ticket_id=ticket_id)
    except VerbError as error:
        if error.kind in (ErrorKind.NOT_FOUND, ErrorKind.DENIED, ErrorKind.INVALID):
            return _not_found(request)
        return await ticket_page(request, error.message, 409)
    minutes = own(request, Help).settings.view_minutes
    open_view(
        session_of(request.scope).data,
        shown.author,
        minutes * 60,
        "help.view",
        {"ticket_id": ticket_id},
        back_to=f"/help/{ticket_id}",
    )
    return RedirectResponse("/", status_code=303)


async def open_attachment(request: Request) -> Response:
    """One attached file, downloaded (never shown inline: its bytes are hers, not the
    portal's, and must not run as the portal's page)."""
    ticket_id, index = request.path_params["ticket_id"], request.path_params["index"]
    gate, identity = verb_gate(request), viewer(request)
    try:
        shown = await gate.call(identity, "help.show", ticket_id=ticket_id)
        opened = await gate.call(identity, "help.attachment", ticket_id=ticket_id, index=index)
    except VerbError as error:
        if error.kind in NO_SUCH:
            return _not_found(request)
        raise
    name = shown.attachments[index].rstrip("/").rsplit("/", 1)[-1] or "file"
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "Content-Length": str(opened.size()),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return StreamingResponse(
        opened.chunks(), media_type="application/octet-stream", headers=headers
    )


async def add_screenshot(request: Request) -> Response:
    """A picture sent from the question's page (htmx, multipart: its CSRF token comes
    as the header); the screenshots part redrawn, with the reason if it was refused."""
    ticket_id = request.path_params["ticket_id"]
    gate, identity = verb_gate(request), viewer(request)
    limit = own(request, Help).settings.max_screenshot_bytes
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get("screenshot")
    data = await upload.read(limit + 1) if isinstance(upload, UploadFile) else b""
    error = ""
    try:
        view = await gate.call(identity, "help.screenshot", ticket_id=ticket_id, data=data)
    except VerbInvalid as refused:
        error = refused.message
        view = await gate.call(identity, "help.show", ticket_id=ticket_id)
    except VerbError as failure:
        if failure.kind in NO_SUCH:
            return _not_found(request)
        raise
    finally:
        await form.close()
    context = {"ticket": view, "screenshot_error": error, "can_add_screenshot": True}
    return render(request, "help/_screenshots.html", context)


async def show_image(request: Request) -> Response:
    """A screenshot's bytes, as the type its content proved; nothing in it can run."""
    try:
        picture = await verb_gate(request).call(
            viewer(request),
            "help.image",
            ticket_id=request.path_params["ticket_id"],
            image_id=request.path_params["image_id"],
        )
    except VerbError as failure:
        if failure.kind in NO_SUCH:
            return _not_found(request)
        raise
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
    }
    return Response(picture.data, media_type=picture.media_type, headers=headers)


async def queue_page(request: Request) -> Response:
    params = request.query_params
    filters = {
        "state": params.get("state", "open"),
        "person": params.get("person", ""),
        "project": params.get("project", ""),
        "older_than_days": params.get("older_than_days", "") or "0",
    }
    try:
        listed = await verb_gate(request).call(viewer(request), "help.queue", **filters)
    except VerbInvalid as error:
        return message_page(request, "Those filters are not right", error.message, status_code=400)
    return render(
        request,
        "help/queue.html",
        {
            "active": "help",
            "tickets": listed.tickets,
            "filters": filters,
            "state_words": STATE_WORDS,
        },
    )


routes = [
    Route("/help", mine, methods=["GET"]),
    Route("/help/new", new_form, methods=["GET"]),
    Route("/help/new", ask, methods=["POST"]),
    Route("/help/queue", queue_page, methods=["GET"]),
    Route("/help/{ticket_id:str}", ticket_page, methods=["GET"]),
    Route("/help/{ticket_id:str}/view-as", see_what_she_sees, methods=["POST"]),
    Route("/help/{ticket_id:str}/files/{index:int}", open_attachment, methods=["GET"]),
    Route("/help/{ticket_id:str}/screenshot", add_screenshot, methods=["POST"]),
    Route("/help/{ticket_id:str}/images/{image_id:int}", show_image, methods=["GET"]),
    Route("/help/{ticket_id:str}/{action:str}", act, methods=["POST"]),
]
