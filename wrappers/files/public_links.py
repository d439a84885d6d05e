"""Public links: ``/p/<secret>`` opens a published file or folder without sign-in.

Nobody is signed in, so the page checks the capability itself: at every request the
link is looked up by the SHA-256 of its secret and must be live (not revoked, not
expired) and, if it has a password, unlocked in this browser's session. Then it calls
the verbs ``files.public_list`` and ``files.public_open`` through the gate as the
files tool's service principal ``service:public-links``, for the link's owner: policy
decides on that principal's own rule, the gate audits the call (the principal as the
actor, the owner in the detail), and the OWNER's agent opens the file as her, walking
down from the published item refusing every symlink and ``..``, so nothing outside
what she published is read. The page also audits each use of the link with the actor
``public-link:<id>`` (the password tries, and every download with its size).
"""

from __future__ import annotations

import asyncio
import posixpath
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.security.csrf import csrf_token
from app.security.sessions import session_of
from app.verbs import ErrorKind, VerbError, descriptors
from app.web.templating import render
from wrappers.files.downloads import download_headers, file_response
from wrappers.files.models import PublicLink
from wrappers.files.share_store import ShareStore, link_state, password_matches
from wrappers.files.verbs.public import PUBLIC_LINKS
from wrappers.request import own, verb_gate

UNLOCKED = "public_links_unlocked"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _store(request: Request) -> ShareStore:
    store = own(request, ShareStore)
    return store


def _gone(request: Request, status: int = 404) -> Response:
    """One page for unknown, expired and revoked links alike, and for one the portal
    may not open (its rule was removed): a stranger learns nothing about which links
    exist."""
    return render(
        request,
        "files/public.html",
        {"state": "gone", "heading": "This link is not available"},
        status_code=status,
    )


def _refused(request: Request, error: VerbError) -> Response:
    """What the stranger sees when the verb did not work: the owner's agent or the
    storage not answering is said as such (try again), anything else is "gone"."""
    if error.kind is ErrorKind.UNAVAILABLE:  # busy or a failing disk too, not only no agent
        return render(
            request,
            "files/public.html",
            {"state": "unavailable", "heading": "This link cannot be opened right now"},
            status_code=503,
        )
    return _gone(request)


async def _audit(
    request: Request, link: PublicLink, outcome: str, what: str, **detail: Any
) -> None:
    await request.app.state.auditor.record(
        actor=f"public-link:{link.id}",
        action="files.public_download",
        object=f"file:{what}",
        outcome=outcome,
        client_ip=_client_ip(request),
        **detail,
    )


async def _live_link(request: Request) -> PublicLink | None:
    secret = request.path_params["secret"]
    if not (20 <= len(secret) <= 100):
        return None
    link = await _store(request).link_by_secret(secret)
    if link is None or link_state(link) != "live":
        return None
    return link


def _unlocked(request: Request, link: PublicLink) -> bool:
    if not link.password_hash:
        return True
    opened = session_of(request.scope).data.get(UNLOCKED, [])
    return isinstance(opened, list) and link.id in opened


def _relative(request: Request) -> str:
    """The place inside a published folder, as asked; the agent refuses ``..``."""
    value = request.query_params.get("in", "").strip("/")
    return value if len(value) <= 4096 and "\x00" not in value else ""


async def _open(request: Request, link: PublicLink, verb: str, relative: str) -> Any:
    """``verb`` on the link's item, as the files tool's service for the link's owner."""
    return await verb_gate(request).call_as_service(
        PUBLIC_LINKS, link.owner, verb, root=link.path, relative=relative
    )


async def public_page(request: Request) -> Response:
    link = await _live_link(request)
    if link is None:
        return _gone(request)
    if not _unlocked(request, link):
        return render(
            request,
            "files/public.html",
            {"state": "password", "csrf": csrf_token(request.scope), "error": ""},
        )
    relative = _relative(request)
    try:
        listing = await _open(request, link, "files.public_list", relative)
    except VerbError as error:
        await _audit(request, link, "failed", link.path, reason=error.message)
        return _refused(request, error)
    name = posixpath.basename(link.path.rstrip("/")) or link.path
    trail = []
    walked = ""
    for part in relative.split("/") if relative else []:
        walked = f"{walked}/{part}" if walked else part
        trail.append((part, walked))
    return render(
        request,
        "files/public.html",
        {
            "state": "open",
            "name": name,
            "kind": listing.kind,
            "size": listing.size,
            "items": [item.model_dump() for item in listing.items],
            "relative": relative,
            "trail": trail,
            "base": f"/p/{request.path_params['secret']}",
            "expires_at": link.expires_at,
        },
    )


async def unlock(request: Request) -> Response:
    """The password form: rate-limited per address, audited when wrong."""
    link = await _live_link(request)
    if link is None:
        return _gone(request)
    limiter = request.app.state.link_limiter
    form = await request.form()
    password = str(form.get("password", ""))[:200]
    if not limiter.allow(_client_ip(request)):
        await _audit(request, link, "throttled", link.path)
        return render(
            request,
            "files/public.html",
            {
                "state": "password",
                "csrf": csrf_token(request.scope),
                "error": "Too many tries. Wait a minute and try again.",
            },
            status_code=429,
        )
    matches = await asyncio.to_thread(password_matches, password, link.password_hash)
    if not matches:
        await _audit(request, link, "refused", link.path, reason="wrong password")
        return render(
            request,
            "files/public.html",
            {
                "state": "password",
                "csrf": csrf_token(request.scope),
                "error": "That password is not right.",
            },
            status_code=403,
        )
    state = session_of(request.scope)
    opened = state.data.get(UNLOCKED, [])
    state.data[UNLOCKED] = [*(opened if isinstance(opened, list) else [])[-50:], link.id]
    return RedirectResponse(f"/p/{request.path_params['secret']}", status_code=303)


async def download(request: Request) -> Response:
    link = await _live_link(request)
    if link is None:
        return _gone(request)
    if not _unlocked(request, link):
        return RedirectResponse(f"/p/{request.path_params['secret']}", status_code=303)
    relative = _relative(request)
    what = f"{link.path.rstrip('/')}/{relative}" if relative else link.path
    try:
        opened = await _open(request, link, "files.public_open", relative)
    except VerbError as error:
        await _audit(request, link, "failed", what, reason=error.message)
        return _refused(request, error)
    fd = opened.fd
    if request.method == "GET":
        # Every read is audited; only a whole download (not a resumed piece) counts.
        wanted = request.headers.get("range")
        if not wanted:
            assert link.id is not None
            await _store(request).count_download(link.id)
        detail = {"range": wanted[:100]} if wanted else {}
        await _audit(request, link, "ok", what, size=descriptors.info(fd).st_size, **detail)
    name = posixpath.basename(what.rstrip("/")) or "download"
    return file_response(request, fd, download_headers(name))


routes = [
    Route("/p/{secret}", public_page, methods=["GET"]),
    Route("/p/{secret}", unlock, methods=["POST"]),
    Route("/p/{secret}/download", download, methods=["GET", "HEAD"]),
]
