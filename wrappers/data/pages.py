"""The Data page: bring data in (one form per kind of source), send results out, the
saved connections, and the transfer list that follows every transfer live.

Forms post plainly and come back to /data (a mistake is said next to its field,
with what she typed kept, secrets excepted); browsing the other side and accepting
an SFTP host key are htmx requests that answer a fragment. An outage is left to
the portal's own page for it (app/web/errors.py), never a traceback.
"""

from __future__ import annotations

import secrets
import time
from html import escape
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from app.security.csrf import csrf_token
from app.verbs import ErrorKind, VerbError, VerbInvalid
from app.web.errors import status_of
from app.web.templating import render
from wrappers.data.settings import data_settings
from wrappers.files.common import places
from wrappers.files.verbs.manage import home_of
from wrappers.request import verb_gate, viewer

SOURCES = {
    "url": "Web address(es)",
    "s3": "S3 bucket",
    "sftp": "SFTP server",
    "webdav": "WebDAV / Nextcloud",
    "git": "Git repository",
}
TABS = {**SOURCES, "export": "Send results out", "connections": "Saved connections"}
SECRET_NAMES = ("access_key", "secret_key", "password", "private_key", "key_passphrase")
TEXT_FIELDS = (
    "connection_id",
    "endpoint_url",
    "region",
    "bucket",
    "prefix",
    "host",
    "port",
    "username",
    "host_key",
    "path",
    "url",
    "ref",
    "urls",
    "target",
    "source_path",
    "name",
    "kind",
    "size_hint",
)
NO_SUCH = frozenset({ErrorKind.NOT_FOUND, ErrorKind.DENIED, ErrorKind.INVALID})


def _token() -> str:
    return f"{int(time.time())}-{secrets.token_hex(12)}"


async def _page(
    request: Request,
    tab: str,
    form: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
    notice: str = "",
) -> Response:
    identity = viewer(request)
    gate = verb_gate(request)
    listed = await gate.call(identity, "data.list")
    connections = await gate.call(identity, "data.connections.list")
    config = data_settings(request.app.state.settings)
    return render(
        request,
        "data/page.html",
        {
            "active": "data",
            "tab": tab if tab in TABS else "url",
            "tabs": TABS,
            "sources": SOURCES,
            "transfers": listed.transfers,
            "limit": listed.limit,
            "connections": connections.connections,
            "can_save": connections.can_save,
            "form": form or {},
            "fields": fields or {},
            "error": error,
            "notice": notice,
            "home": home_of(identity.unix_name),
            "places": await places(request),
            "token": (form or {}).get("token") or _token(),
            "by_job": bool(config.transfer_partition),
        },
        status_code=status,
    )


async def data_page(request: Request) -> Response:
    tab = request.query_params.get("tab", "url")
    notice = {
        "started": "Started. It keeps going if you close this page; you will get "
        "a notification when it ends.",
        "saved": "Connection saved.",
        "deleted": "Connection deleted.",
    }.get(request.query_params.get("done", ""), "")
    return await _page(request, tab, notice=notice)


async def transfers_fragment(request: Request) -> Response:
    """The list alone, for a tab catching up when its live connection opens."""
    listed = await verb_gate(request).call(viewer(request), "data.list")
    template = request.app.state.templates.get_template("data/_transfers.html")
    return HTMLResponse(template.render(transfers=listed.transfers, csrf=csrf_token(request.scope)))


def _form(posted: FormData) -> dict[str, str]:
    """What she typed, to fill the form again (never her secrets)."""
    return {
        key: str(posted.get(key, ""))
        for key in (*TEXT_FIELDS, "source", "destination", "token", "unpack", "email")
    }


def _arguments(posted: FormData, *names: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for key in (*TEXT_FIELDS, *SECRET_NAMES, *names):
        value = posted.get(key)
        if isinstance(value, str) and value.strip() != "":
            args[key] = value if key in SECRET_NAMES or key == "urls" else value.strip()
    for key in ("unpack", "email"):
        if key in names:
            args[key] = posted.get(key) in ("on", "1", "true")
    return args


async def _submit(request: Request, verb: str, tab_of: str, keep: tuple[str, ...]) -> Response:
    posted = await request.form()
    form = _form(posted)
    tab = form.get(tab_of) or "url"
    arguments = _arguments(posted, tab_of, "token", *keep)
    allowed = set(_allowed(verb))
    arguments = {key: value for key, value in arguments.items() if key in allowed}
    try:
        await verb_gate(request).call(viewer(request), verb, **arguments)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        fields = error.fields if isinstance(error, VerbInvalid) else {}
        return await _page(
            request,
            "export" if verb == "data.export" else tab,
            form,
            fields,
            error.message,
            status_of(error.kind),
        )
    _poke(request)
    return RedirectResponse(f"/data?tab={tab}&done=started", status_code=303)


def _allowed(verb: str) -> tuple[str, ...]:
    common = (
        "connection_id",
        "endpoint_url",
        "region",
        "bucket",
        "prefix",
        "host",
        "port",
        "username",
        "host_key",
        "path",
        "url",
        "ref",
        *SECRET_NAMES,
        "token",
        "email",
    )
    if verb == "data.import":
        return (*common, "source", "urls", "target", "unpack", "size_hint")
    return (*common, "destination", "source_path")


def _poke(request: Request) -> None:
    monitor = getattr(request.app.state, "data_monitor", None)
    if monitor is not None:
        monitor.poke()


async def start_import(request: Request) -> Response:
    return await _submit(request, "data.import", "source", ("unpack", "email"))


async def start_export(request: Request) -> Response:
    return await _submit(request, "data.export", "destination", ("email",))


async def act(request: Request) -> Response:
    """Cancel, Retry or Forget one transfer; a refusal is the portal's page for it."""
    action = request.path_params["action"]
    verb = {"cancel": "data.cancel", "retry": "data.retry", "forget": "data.forget"}.get(action)
    if verb is None:
        return HTMLResponse("Not found", status_code=404)
    transfer_id = request.path_params["transfer_id"]
    try:
        await verb_gate(request).call(viewer(request), verb, transfer_id=transfer_id)
    except VerbError as error:
        if error.kind in NO_SUCH:
            return await _page(
                request, "url", error="There is no such transfer of yours.", status=404
            )
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return await _page(request, "url", error=error.message, status=status_of(error.kind))
    _poke(request)
    return RedirectResponse("/data", status_code=303)


async def save_connection(request: Request) -> Response:
    posted = await request.form()
    form = _form(posted)
    arguments = _arguments(posted, "kind", "name")
    keep = {
        "connection_id",
        "endpoint_url",
        "region",
        "bucket",
        "prefix",
        "host",
        "port",
        "username",
        "host_key",
        "path",
        "url",
        "kind",
        "name",
        *SECRET_NAMES,
    }
    arguments = {key: value for key, value in arguments.items() if key in keep}
    try:
        await verb_gate(request).call(viewer(request), "data.connections.save", **arguments)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        fields = error.fields if isinstance(error, VerbInvalid) else {}
        return await _page(
            request, "connections", form, fields, error.message, status_of(error.kind)
        )
    return RedirectResponse("/data?tab=connections&done=saved", status_code=303)


async def delete_connection(request: Request) -> Response:
    connection_id = request.path_params["connection_id"]
    try:
        await verb_gate(request).call(
            viewer(request), "data.connections.delete", connection_id=connection_id
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return await _page(
            request, "connections", error="There is no such saved connection of yours.", status=404
        )
    return RedirectResponse("/data?tab=connections&done=deleted", status_code=303)


async def browse(request: Request) -> Response:
    """One folder of the other side, as a fragment that fills the form's prefix or
    path when she picks a folder; or the host key to accept first."""
    posted = await request.form()
    kind = str(posted.get("source") or posted.get("destination") or posted.get("kind") or "")
    arguments = _arguments(posted)
    keep = {
        "connection_id",
        "endpoint_url",
        "region",
        "bucket",
        "prefix",
        "host",
        "port",
        "username",
        "host_key",
        "path",
        "url",
        *SECRET_NAMES,
    }
    arguments = {key: value for key, value in arguments.items() if key in keep}
    template = request.app.state.templates.get_template("data/_browse.html")
    try:
        found = await verb_gate(request).call(
            viewer(request), "data.browse", kind=kind, **arguments
        )
    except VerbError as error:
        return HTMLResponse(
            template.render(error=error.message, kind=kind, csrf=csrf_token(request.scope)),
            status_code=200,
        )
    return HTMLResponse(
        template.render(
            found=found,
            kind=kind,
            connection_id=arguments.get("connection_id", ""),
            csrf=csrf_token(request.scope),
        )
    )


async def accept_key(request: Request) -> Response:
    posted = await request.form()
    arguments = {
        key: str(posted.get(key, "")).strip()
        for key in ("key", "connection_id", "transfer_id")
        if posted.get(key)
    }
    if not arguments.get("connection_id") and not arguments.get("transfer_id"):
        # Typed in for this transfer alone: nothing to remember but the form's field.
        return HTMLResponse(
            '<div id="data-browse"><p class="notice info" role="status">Host key '
            "accepted for this transfer. Browse again, or start it.</p></div>"
            + _host_key_field(arguments.get("key", ""))
        )
    try:
        await verb_gate(request).call(viewer(request), "data.accept_host_key", **arguments)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return await _page(request, "sftp", error=error.message, status=status_of(error.kind))
    if arguments.get("transfer_id") and posted.get("retry"):
        return await act_retry(request, arguments["transfer_id"])
    if request.headers.get("HX-Request"):
        return HTMLResponse(
            '<div id="data-browse"><p class="notice info" role="status">Host key accepted '
            "and remembered with the connection. Browse again, or start the transfer.</p></div>"
            + _host_key_field(arguments.get("key", ""))
        )
    return RedirectResponse("/data?tab=sftp", status_code=303)


def _host_key_field(key: str) -> str:
    return (
        '<input type="hidden" id="field-host_key" name="host_key" hx-swap-oob="true" value="'
        + escape(key, quote=True)
        + '">'
    )


async def act_retry(request: Request, transfer_id: str) -> Response:
    await verb_gate(request).call(viewer(request), "data.retry", transfer_id=transfer_id)
    _poke(request)
    return RedirectResponse("/data", status_code=303)


routes = [
    Route("/data", data_page, methods=["GET"]),
    Route("/data/transfers", transfers_fragment, methods=["GET"]),
    Route("/data/import", start_import, methods=["POST"]),
    Route("/data/export", start_export, methods=["POST"]),
    Route("/data/browse", browse, methods=["POST"]),
    Route("/data/host-key", accept_key, methods=["POST"]),
    Route("/data/connections", save_connection, methods=["POST"]),
    Route("/data/connections/{connection_id:str}/delete", delete_connection, methods=["POST"]),
    Route("/data/transfers/{transfer_id:str}/{action:str}", act, methods=["POST"]),
]
