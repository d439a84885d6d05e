"""Seeing the portal as someone else sees it, read-only: "See what she sees".

A tool opens a view in a staff member's session (the help tool does, on a question
whose asker consented): whose portal, until when, and the verb that decides, on
every request, whether the view still holds (she may take her consent back) and
records the page seen. While it holds, the request's identity is hers with
``viewed_by`` set, so every page and live update is hers as she would see it, and:

- the gate lets only viewing verbs through (app/verbs/catalog.py ``viewable``) and
  names the one who looks as the actor of every audit row;
- no request but GET and HEAD reaches a route (besides stopping the view and signing
  out), whatever a page offers;
- the view ends by itself at its time, when the deciding verb says no, or when the
  staff member stops it.

The core names no tool: the deciding verb's name and arguments come with the view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.logs import get_logger
from app.security.sessions import Identity, SessionStore, session_of
from app.verbs.errors import VerbError

log = get_logger("onestop.view_as")

VIEW_KEY = "view_as"
# Where the staff member's own scope is kept while the request is hers.
LOOKER = "onestop.view_as.looker"
STOP_PATH = "/view-as/stop"
ALWAYS_ALLOWED = frozenset({STOP_PATH, "/logout"})
QUIET_PREFIXES = ("/static/", "/vendor/", "/healthz")


@dataclass(frozen=True)
class View:
    """What a staff member's session holds while she looks at someone's portal."""

    person: str
    until: float
    check: str
    arguments: dict[str, Any]
    back_to: str

    @property
    def until_text(self) -> str:
        return datetime.fromtimestamp(self.until, UTC).strftime("%H:%M UTC")


def open_view(
    session: dict[str, Any],
    person: str,
    seconds: float,
    check: str,
    arguments: dict[str, Any],
    back_to: str = "/",
) -> None:
    """Start a view of ``person``'s portal in this session; ``check`` is a verb the
    looker may call with ``arguments`` plus ``page`` (the path seen, "" for a live
    or partial request) and which fails once the view no longer holds."""
    session[VIEW_KEY] = {
        "person": person,
        "until": time.time() + seconds,
        "check": check,
        "arguments": arguments,
        "back_to": back_to,
    }


def view_of(session: dict[str, Any]) -> View | None:
    raw = session.get(VIEW_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return View(
            str(raw["person"]),
            float(raw["until"]),
            str(raw["check"]),
            dict(raw["arguments"]),
            str(raw.get("back_to") or "/"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def looker_of(scope: Scope) -> Identity | None:
    """The staff member looking, when this request is part of a view; else None."""
    found = scope.get(LOOKER)
    return found if isinstance(found, Identity) else None


class ViewAs:
    """Turns a staff member's request into hers while a view holds (see module)."""

    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = session_of(scope)
        view = view_of(state.data) if state.identity is not None else None
        path = scope.get("path", "")
        if view is None or path in ALWAYS_ALLOWED or path.startswith(QUIET_PREFIXES):
            await self.app(scope, receive, send)
            return
        looker = state.identity
        assert looker is not None
        person = await self._holds(scope, looker, view, path)
        if person is None:
            state.data.pop(VIEW_KEY, None)
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            await self._refuse(scope, receive, send, view)
            return
        scope[LOOKER] = looker
        state.identity = person
        try:
            await self.app(scope, receive, send)
        finally:
            state.identity = looker

    async def _holds(
        self, scope: Scope, looker: Identity, view: View, path: str
    ) -> Identity | None:
        """Her identity, marked as looked at by ``looker``, while the view holds."""
        if time.time() >= view.until:
            log.info("view_as_ended", actor=looker.unix_name, person=view.person, why="time")
            return None
        app = scope["app"]
        whole_page = scope["type"] == "http" and not _header(scope, b"hx-request")
        query = scope.get("query_string", b"").decode("latin-1")
        page = (path + ("?" + query if query else "")) if whole_page else ""
        try:
            await app.state.verbs.call(
                looker, view.check, **{**view.arguments, "page": page[:2048]}
            )
        except VerbError as error:
            log.info("view_as_ended", actor=looker.unix_name, person=view.person, why=error.message)
            return None
        her = await self.store.person(view.person)
        return None if her is None else replace(her, viewed_by=looker.unix_name)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, view: View) -> None:
        from app.web.templating import message_page

        response = message_page(
            Request(scope, receive),
            "This is a read-only view",
            f"You are seeing {view.person}'s portal as {view.person} sees it. Nothing can "
            "be changed, shared, started or sent from here.",
            "Stop viewing to act as yourself again.",
            status_code=403,
            tone="warning",
        )
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope.get("headers", []) if key == name), None)


async def stop(request: Request) -> Response:
    """End the view (a POST with the CSRF token, like every form)."""
    data = session_of(request.scope).data
    view = view_of(data)
    data.pop(VIEW_KEY, None)
    return RedirectResponse(view.back_to if view else "/", status_code=303)


routes = [Route(STOP_PATH, stop, methods=["POST"])]
