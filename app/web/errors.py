"""Verb errors as answers, in one place: each kind (app/verbs/errors.py ``ErrorKind``)
has one HTTP status and one plain page.

``create_app`` registers ``verb_error`` for ``VerbError``, so a route lets a verb
error go and the person reads what it means. A route catches only what it shows
back where she is: the field errors of its form (``VerbInvalid.fields``), a
refusal it answers with a choice ("replace or keep both"), and what it shows as
nothing on purpose (not found and not allowed look alike on a job's page). When
it shows one back, its status is still ``status_of(error.kind)``.

"Unavailable" (her agent, Slurm or the storage not answering) is never worded as
"not found": it says the cluster side is not answering and offers to try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from app.auth.next_url import safe_next
from app.verbs.errors import ErrorKind, VerbError, VerbInvalid
from app.web.templating import message_page

STATUS: dict[ErrorKind, int] = {
    ErrorKind.DENIED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.INVALID: 400,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.NO_SPACE: 507,
    ErrorKind.UNAVAILABLE: 503,
}
# tus clients (static/upload.js, and any other) retry a 5xx: a full disk must stop
# them, with the words, as 413 does (the status uploads always got for it).
TUS_STATUS: dict[ErrorKind, int] = {**STATUS, ErrorKind.NO_SPACE: 413}


@dataclass(frozen=True)
class Words:
    heading: str
    sentence: str = ""  # said after the error's own message, when there is one


WORDS: dict[ErrorKind, Words] = {
    ErrorKind.DENIED: Words("Not allowed"),
    ErrorKind.NOT_FOUND: Words(
        "Not found", "It may have been moved or removed, or it is not yours to see."
    ),
    ErrorKind.INVALID: Words(
        "That request was not right", "Nothing was changed. Check what you chose and try again."
    ),
    ErrorKind.CONFLICT: Words("That could not be done"),
    ErrorKind.TOO_LARGE: Words(
        "That is too large", "Choose less at a time, or ask your HPC team for help."
    ),
    ErrorKind.NO_SPACE: Words(
        "There is no space left",
        "The disk or your quota is full. Free some space (emptying the trash counts too), "
        "then try again.",
    ),
    ErrorKind.UNAVAILABLE: Words(
        "The cluster is not answering right now",
        "Part of the cluster that this needs (your personal helper process, or the "
        "scheduler) is not answering right now, so nothing was changed. Please try again "
        "in a moment.",
    ),
}
# Unavailable after the work may have begun: nothing can be promised about it.
LOST = frozenset({"agent-lost", "remote-lost"})
LOST_SENTENCE = (
    "Part of the cluster that this needs (your personal helper process, or the "
    "scheduler) stopped answering while it worked. Look whether it was done before "
    "you try again."
)
RETRY_LABEL = "Try again"


def status_of(kind: ErrorKind) -> int:
    return STATUS[kind]


def words_of(kind: ErrorKind) -> Words:
    return WORDS[kind]


def unavailable_sentence(error: VerbError, changing: bool = False) -> str:
    """What an unavailable answer says besides its message; ``changing``: the request
    asked for a change (a POST), which may have begun before the answer was lost."""
    if changing and error.detail in LOST:
        return LOST_SENTENCE
    return WORDS[ErrorKind.UNAVAILABLE].sentence


def _same_origin(request: Request, address: str) -> str:
    """``address`` (a Referer) as a local path and query if it is this portal's."""
    parts = urlsplit(address)
    if parts.netloc != request.url.netloc or parts.scheme not in ("http", "https"):
        return ""
    local = parts.path + (f"?{parts.query}" if parts.query else "")
    return local if safe_next(local) == local else ""


def retry_url(request: Request) -> str:
    """The same page again: a read's own address; after a change (a form sent), the
    page it was sent from; the dashboard when neither is known."""
    if request.method in ("GET", "HEAD"):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return safe_next(here)
    return _same_origin(request, request.headers.get("referer", "")) or "/"


def _back_url(request: Request) -> str:
    return _same_origin(request, request.headers.get("referer", "")) or "/"


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def _fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )


async def verb_error(request: Request, exc: Exception) -> Response:
    """The answer to a verb error no route caught: a plain page with the kind's words
    and status; a short fragment for htmx; JSON for the API; plain text with the tus
    headers for an upload client."""
    assert isinstance(exc, VerbError)
    if request.scope["type"] != "http":
        raise exc  # a live connection (/ws) answers its own; one let go ends it
    kind = exc.kind
    if request.headers.get("tus-resumable"):
        response: Response = PlainTextResponse(exc.message, status_code=TUS_STATUS[kind])
        response.headers["tus-resumable"] = "1.0.0"
        response.headers["cache-control"] = "no-store"
        return response
    status = STATUS[kind]
    if _wants_json(request):
        fields = exc.fields if isinstance(exc, VerbInvalid) else {}
        body = {"error": kind.value, "detail": exc.detail, "message": exc.message}
        return JSONResponse({**body, "fields": fields} if fields else body, status_code=status)
    words = WORDS[kind]
    sentence = words.sentence
    heading = words.heading
    action_url, action_label = _back_url(request), "Go back"
    if kind is ErrorKind.UNAVAILABLE:
        sentence = unavailable_sentence(exc, changing=request.method not in ("GET", "HEAD"))
        action_url, action_label = retry_url(request), RETRY_LABEL
    elif kind is ErrorKind.DENIED and exc.detail == "reauth":
        heading = "Please sign in again"
        action_url = "/login?" + urlencode({"next": retry_url(request), "fresh": "1"})
        action_label = "Sign in again"
    if _fragment(request):
        templates = request.app.state.templates
        html = templates.get_template("partials/verb_error.html").render(
            heading=heading,
            message=exc.message,
            sentence=sentence,
            action_url=action_url,
            action_label=action_label,
        )
        return HTMLResponse(html, status_code=status)
    paragraphs = [text for text in (exc.message, sentence) if text]
    return message_page(
        request,
        heading,
        *paragraphs,
        status_code=status,
        action_url=action_url,
        action_label=action_label,
        tone="error",
    )
