"""What a notebook origin answers itself: refusals, redirects, its cookies, the audit.

A notebook origin is not the portal: its pages have no script and no cookie of the
portal, every link on them leads back to the portal by its full address, and their
policy lets them load nothing but the portal's stylesheets. The portal's other
security headers are added around them (app/security/headers.py).
"""

from __future__ import annotations

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from wrappers.notebooks.proxy.access import Refusal

__all__ = ["audit_refusal", "clear_cookie", "redirect", "refusal_page", "refuse", "set_cookie"]


def _policy(portal: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src {portal}",
            f"img-src {portal}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def refusal_page(scope: Scope, portal: str, refusal: Refusal) -> HTMLResponse:
    """The refusal in words, with one button back to the portal (``portal``: its origin)."""
    template = scope["app"].state.templates.get_template("notebooks/refused.html")
    page = template.render(
        heading=refusal.heading,
        text=refusal.text,
        portal=portal,
        action_url=refusal.session_page or "/notebooks",
        action_label="Go to the session's page" if refusal.session_page else "Go to Notebooks",
    )
    response = HTMLResponse(page, status_code=refusal.status)
    response.headers["content-security-policy"] = _policy(portal)
    response.headers["cache-control"] = "no-store"
    return response


async def audit_refusal(scope: Scope, actor: str, session_id: str, refusal: Refusal) -> None:
    """A refusal worth keeping, in the audit log as ``notebooks.connect``."""
    if not refusal.audit:
        return
    client = scope.get("client")
    await scope["app"].state.auditor.record(
        actor=actor,
        action="notebooks.connect",
        object=f"/notebooks/{session_id}",
        outcome="refused",
        client_ip=client[0] if client else "",
        reason=refusal.reason,
    )


async def refuse(scope: Scope, receive: Receive, send: Send, portal: str, refusal: Refusal) -> None:
    """Answer with the refusal: its page, or a WebSocket closed before it opened
    (the browser sees the handshake refused)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4000 + refusal.status})
        return
    await refusal_page(scope, portal, refusal)(scope, receive, send)


def redirect(location: str, *cookies: str) -> Response:
    """A 303 to ``location`` (often another origin), setting ``cookies``; no Referer
    goes with it (a code in this address must not travel on)."""
    response = RedirectResponse(location, status_code=303)
    response.headers["referrer-policy"] = "no-referrer"
    for cookie in cookies:
        response.headers.append("set-cookie", cookie)
    return response


def set_cookie(name: str, value: str, max_age: int, tls: bool) -> str:
    """A cookie of the notebook origin alone: no Domain (this host only), the whole
    host (``__Host-`` needs Path=/), HttpOnly, SameSite=Lax, Secure over TLS."""
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max(0, max_age)}", "HttpOnly"]
    parts.append("SameSite=Lax")
    if tls:
        parts.append("Secure")
    return "; ".join(parts)


def clear_cookie(name: str, tls: bool) -> str:
    return set_cookie(name, "", 0, tls)
