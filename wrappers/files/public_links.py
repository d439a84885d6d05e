"""Public links: ``/p/<secret>`` opens a published file or folder without sign-in.

Not a tool and not a verb (nobody is signed in): a narrow path of its own. At every
request the link is looked up by the SHA-256 of its secret and must be live (not
revoked, not expired) and, if it has a password, unlocked in this browser's session.
The file is then opened by the OWNER's agent, as her (``files.public_open``), which
walks down from the published item refusing every symlink and ``..``, so nothing
outside what she published is read. Every download is audited with the actor
``public-link:<id>``.
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
from app.verbs import descriptors
from app.web.templating import render
from managers.errors import OperationError
from wrappers.files.downloads import download_headers, file_response
from wrappers.files.models import PublicLink
from wrappers.files.share_store import ShareStore, link_state, password_matches
from wrappers.request import own

UNLOCKED = "public_links_unlocked"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _store(request: Request) -> ShareStore:
    store = own(request, ShareStore)
    return store


def _gone(request: Request, status: int = 404) -> Response:
    """One page for unknown, expired and revoked links alike: a stranger learns
    nothing about which links exist."""
    return render(
        request,
        "files/public.html",
        {"state": "gone", "heading": "This link is not available"},
        status_code=status,
    )


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


async def _agent_call(request: Request, link: PublicLink, op: str, **args: Any) -> Any:
    agents = request.app.state.verbs.services.agents
    return await agents.call(link.owner, op, {"root": link.path, **args})


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
        listing, _ = await _agent_call(request, link, "files.public_list", relative=relative)
    except OperationError as error:
        await _audit(request, link, "failed", link.path, reason=error.message)
        return _gone(request)
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
            "kind": listing.get("kind", "file"),
            "size": listing.get("size", 0),
            "items": listing.get("items", []),
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
        _, fds = await _agent_call(request, link, "files.public_open", relative=relative)
    except OperationError as error:
        await _audit(request, link, "failed", what, reason=error.message)
        return _gone(request)
    if len(fds) != 1:
        for extra in fds:
            descriptors.close(extra)
        return _gone(request)
    fd = fds[0]
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
