"""The notifications pages: the list, the bell fragment, opening one, marking all seen."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from app.verbs import VerbError
from app.web.templating import render
from wrappers.request import verb_gate, viewer

PAGE_SIZE = 100

# A refusal or an outage is answered by the portal's page for its kind
# (app/web/errors.py); only the bell makes do without.


async def notifications_page(request: Request) -> Response:
    listing = await verb_gate(request).call(viewer(request), "notifications.list", limit=PAGE_SIZE)
    return render(
        request,
        "notifications/list.html",
        {
            "active": "notifications",
            "notifications": listing.notifications,
            "unseen": listing.unseen,
        },
    )


async def bell(request: Request) -> Response:
    """Just the bell, with the unseen count: the page asks for it when it loads."""
    try:
        listing = await verb_gate(request).call(viewer(request), "notifications.list", limit=0)
        unseen = listing.unseen
    except VerbError:
        unseen = 0  # a bell without a number beats an error in the navigation bar
    template = request.app.state.templates.get_template("partials/bell.html")
    return HTMLResponse(template.render(unseen=unseen), headers={"Cache-Control": "no-store"})


async def open_one(request: Request) -> Response:
    """Mark it seen and go where it points (the job's page)."""
    opened = await verb_gate(request).call(
        viewer(request), "notifications.open", id=request.path_params["id"]
    )
    url = opened.notification.url
    # Stored by the portal itself, but a redirect only ever stays on this site.
    target = url if url.startswith("/") and not url.startswith("//") else "/notifications"
    return RedirectResponse(target, status_code=303)


async def mark_all_seen(request: Request) -> Response:
    await verb_gate(request).call(viewer(request), "notifications.mark_seen")
    return RedirectResponse("/notifications", status_code=303)


routes = [
    Route("/notifications", notifications_page, methods=["GET"]),
    Route("/notifications/bell", bell, methods=["GET"]),
    Route("/notifications/seen", mark_all_seen, methods=["POST"]),
    Route("/notifications/{id:int}/open", open_one, methods=["POST"]),
]
