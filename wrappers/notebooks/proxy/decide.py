"""The decision alone, for a proxy in front of the portal (nginx's ``auth_request``).

A site may let nginx carry notebook traffic straight to the compute nodes. Before each
request nginx asks this endpoint, on the notebook origin itself, with the browser's
request line and headers (its pass cookie, Origin, Upgrade); the portal decides
exactly as its own proxy does (``NotebookProxy.judge``: her pass, her live portal
session, her ownership, policy, the session's own Origin, the session reachable) and
answers:

- 204 with ``X-Onestop-Upstream: host:port`` (the stored address, nothing from the
  request), ``X-Onestop-Notebook-Secret`` (for nginx to add upstream, as the embedded
  proxy does), ``X-Onestop-Host`` (the Host Jupyter must see), ``X-Onestop-Pass``
  (her pass's tag, which ends her sockets when her portal session ends:
  ``sweep.py``), and who she is;
- 401 when connecting again may mend it (no pass, or her portal session ended);
- 403 for every other refusal, its own status in ``X-Onestop-Status``.

nginx then sends refusals to the embedded proxy, which answers them in words (or
starts connecting). The answer names the secret, so only a request carrying the
site's ``notebooks.auth_request_key`` gets one: nginx sets it on its internal
subrequest, and no browser can. Without a key the endpoint does not exist.
Refusals are audited as the embedded proxy's are.

nginx may keep an answer for a second or two, keyed by the host, the pass cookie,
the Origin and the kind of request (safe, changing, WebSocket), since each decides.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import unquote

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.access_log import ACTOR
from app.origins import host_name
from wrappers.notebooks.proxy.access import NOT_HERE, Upstream, header
from wrappers.notebooks.proxy.answers import audit_refusal, refuse
from wrappers.notebooks.settings import notebook_settings

if TYPE_CHECKING:
    from wrappers.notebooks.proxy import NotebookProxy

__all__ = ["DECIDE", "KEY_HEADER", "decide", "from_nginx"]

DECIDE = "/_onestop/auth"
KEY_HEADER = b"x-onestop-auth-key"


def asked_scope(scope: Scope) -> Scope:
    """The request nginx asks about, as the embedded proxy would see it: its method,
    path (as sent and decoded), query and kind from nginx's headers, with the
    browser's own headers (Cookie, Origin, Host) as they came."""
    uri = header(scope, b"x-original-uri") or "/"
    raw_path, _, query = uri.partition("?")
    websocket = (header(scope, b"upgrade") or "").lower() == "websocket"
    return {
        "type": "websocket" if websocket else "http",
        "method": (header(scope, b"x-original-method") or "GET").upper(),
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1", "replace"),
        "query_string": query.encode("latin-1", "replace"),
        "headers": scope["headers"],
        "app": scope["app"],
        "client": scope.get("client"),
    }


def from_nginx(scope: Scope) -> bool:
    """Whether nginx sent this request with the site's key: its question, or a refusal
    it hands on after asking (``@onestop_refused``), which the decision has audited."""
    key = notebook_settings(scope["app"].state.settings).auth_request_key
    sent = header(scope, KEY_HEADER) or ""
    return bool(key) and secrets.compare_digest(sent.encode("utf-8", "replace"), key.encode())


async def decide(proxy: NotebookProxy, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer nginx's question about one request (see the module's text)."""
    if scope["type"] != "http" or not from_nginx(scope):
        await refuse(scope, receive, send, proxy.portal, NOT_HERE)
        return
    asked = asked_scope(scope)
    session_id = proxy.origins.session_of(host_name(asked), asked["path"])
    verdict = await proxy.judge(asked, session_id)
    outcome = verdict.outcome
    if isinstance(outcome, Upstream):
        assert verdict.identity is not None and verdict.portal is not None
        scope[ACTOR] = verdict.identity.unix_name
        await scope["app"].state.sessions.keep_alive(verdict.portal)
        response = Response(
            status_code=204,
            headers={
                "x-onestop-upstream": f"{outcome.host}:{outcome.port}",
                "x-onestop-notebook-secret": outcome.secret,
                "x-onestop-host": outcome.public_host,
                "x-onestop-pass": outcome.pass_tag,
                "x-onestop-user": verdict.identity.unix_name,
            },
        )
        await response(scope, receive, send)
        return
    if session_id is not None:
        actor = verdict.identity.unix_name if verdict.identity else "anonymous"
        await audit_refusal(asked, actor, session_id, outcome)
    status = 401 if outcome.reconnect else 403
    response = Response(
        status_code=status,
        headers={
            "x-onestop-status": str(outcome.status),
            "x-onestop-refusal": outcome.reason,
        },
    )
    await response(scope, receive, send)
