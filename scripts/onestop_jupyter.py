"""The portal's side of a notebook session, loaded inside Jupyter (never by the portal).

scripts/install-jupyter.sh copies this module into the shared Jupyter environment; the
batch script of managers/notebooks/launch.py turns on the three parts below.

``NoDelayKernelConnection``: kernel WebSockets without Nagle's 40 ms waits.

``SecretHeaderIdentityProvider``: the portal's reverse proxy adds the session's secret
in one header on every request, and that header is the only thing Jupyter accepts.
Jupyter's own token stays empty, because JupyterLab copies the token into the page
config of /lab, where a browser (and any script on the page) could read it; the
secret therefore never leaves the portal and the compute node. Requests are not
marked "token-authenticated", so Jupyter keeps its XSRF cookie check and its Origin
check on, exactly as for a browser talking to it directly. No login cookie is set:
there is nothing to steal from the browser that would open the server.

Sockets end with the pass they were opened with. Each proxy (the portal's own, or
nginx after asking the portal) names the browser's pass in ``X-Onestop-Pass``, a
tag of it and not the pass itself; the identity provider remembers every WebSocket
by that tag. When a portal session ends, the portal posts the tags of its passes to
``<base_url>/onestop/close`` with the secret in ``X-Onestop-Control``, a header
neither proxy ever passes from a browser, and the sockets opened with them close
with code 4401. That is how a socket nginx carries, which the portal never sees,
still ends at a sign-out; a browser of hers still signed in reconnects through its
own good pass.

The server extension writes ``server.json`` ({"host", "port"}) beside the secret once
the server is listening, which is how the portal learns the random port the kernel
gave it. It runs from Jupyter's own start hook, queued after the socket is bound, and
checks with a real connection before writing (tmp file + rename, so the portal never
reads half a file). Doing it inside Jupyter rather than in a shell loop that polls the
port means the port is never chosen twice (``port=0``: the kernel picks it) and the
file appears the moment the server can answer, not at the next poll. It is removed
again when the server stops normally.
"""

from __future__ import annotations

import atexit
import getpass
import hmac
import json
import os
import socket
import weakref
from pathlib import Path
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.utils import url_path_join
from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler
from traitlets import Unicode, default

HEADER = "X-Onestop-Notebook-Secret"
"""The request header carrying the secret (wrappers/notebooks/proxy/headers.py adds it)."""
PASS_HEADER = "X-Onestop-Pass"  # noqa: S105 - the header's name
"""The tag of the browser's pass, added by the proxy in front."""
CONTROL_HEADER = "X-Onestop-Control"
"""The secret again, on the portal's own requests to ``/onestop/close`` alone."""
CLOSED_CODE = 4401
MAX_TAGS = 1000


class SecretHeaderIdentityProvider(IdentityProvider):
    """Accepts a request only when it carries the session's secret in ``HEADER``."""

    secret_file = Unicode(
        "", help="File holding the session's secret (mode 0600, written by the portal's agent)."
    ).tag(config=True)

    @default("token")
    def _no_token(self) -> str:
        return ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.secret_file:
            raise ValueError("SecretHeaderIdentityProvider.secret_file must be set")
        secret = Path(self.secret_file).read_text().strip()
        if len(secret) < 32:
            raise ValueError(f"the secret in {self.secret_file} is missing or too short")
        self._secret = secret.encode()
        self._user = User(username=getpass.getuser())
        # Open WebSockets by the tag of the pass they came with; gone with the socket.
        self._sockets: dict[str, weakref.WeakSet[WebSocketHandler]] = {}

    def get_user(self, handler: Any) -> User | None:
        sent = handler.request.headers.get(HEADER, "")
        if not (sent and hmac.compare_digest(sent.encode("utf-8", "replace"), self._secret)):
            return None
        if isinstance(handler, WebSocketHandler):
            tag = handler.request.headers.get(PASS_HEADER, "")
            self._sockets.setdefault(tag, weakref.WeakSet()).add(handler)
        return self._user

    def is_control(self, sent: str) -> bool:
        return bool(sent) and hmac.compare_digest(sent.encode("utf-8", "replace"), self._secret)

    def close_sockets(self, tags: list[str]) -> int:
        """Close every WebSocket opened with one of these passes; how many were open."""
        closed = 0
        for tag in tags:
            for handler in list(self._sockets.pop(tag, ())):
                if handler.ws_connection is not None:
                    handler.close(CLOSED_CODE, "signed out of the portal")
                    closed += 1
        # Tags of sockets that all closed on their own go too.
        for tag in [tag for tag, held in self._sockets.items() if not held]:
            del self._sockets[tag]
        return closed

    def is_token_authenticated(self, handler: Any) -> bool:
        """Never: that would switch off Jupyter's XSRF and Origin checks."""
        return False

    def process_login_form(self, handler: Any) -> User | None:
        return None

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        """No login form: without the proxy there is no way in."""
        return False

    @property
    def logout_available(self) -> bool:
        return False


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
    """A kernel's WebSocket that sends each message at once.

    Kernel messages are small and come in bursts (status, input, result, reply).
    Tornado leaves Nagle's algorithm on for WebSockets, so a message waits for the
    previous one's acknowledgement, which the other side delays by up to 40 ms: every
    cell took 40 ms longer than it runs, with or without a proxy in between.
    """

    def connect(self) -> Any:
        self.websocket_handler.set_nodelay(True)
        return super().connect()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "onestop_jupyter"}]


class CloseHandler(RequestHandler):
    """``POST <base_url>/onestop/close`` from the portal: {"passes": [tag, ...]}.

    A plain Tornado handler, outside Jupyter's own authentication: the only way in is
    the secret in ``CONTROL_HEADER``, which no browser can have put there (both
    proxies drop every ``X-Onestop-*`` header a browser sends)."""

    def initialize(self, provider: SecretHeaderIdentityProvider) -> None:
        self.provider = provider

    def check_xsrf_cookie(self) -> None:
        """Not a browser's request: the control secret stands in for it."""

    def post(self) -> None:
        if not self.provider.is_control(self.request.headers.get(CONTROL_HEADER, "")):
            self.set_status(403)
            return
        try:
            tags = json.loads(self.request.body or b"{}").get("passes", [])
        except (ValueError, AttributeError):
            tags = None
        if not isinstance(tags, list) or len(tags) > MAX_TAGS:
            self.set_status(400)
            return
        closed = self.provider.close_sockets([str(tag) for tag in tags])
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"closed": closed}))


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """The close endpoint, when the session's secret is what lets requests in."""
    provider = serverapp.identity_provider
    if isinstance(provider, SecretHeaderIdentityProvider):
        route = url_path_join(serverapp.base_url, "onestop/close")
        serverapp.web_app.add_handlers(".*$", [(route, CloseHandler, {"provider": provider})])


async def _start_jupyter_server_extension(serverapp: Any) -> None:
    provider = serverapp.identity_provider
    if not isinstance(provider, SecretHeaderIdentityProvider):
        serverapp.log.warning("onestop_jupyter: no session secret, server.json not written")
        return
    target = Path(provider.secret_file).parent / "server.json"
    try:
        # The bind was queued before this hook: a refused connection means it failed.
        with socket.create_connection((serverapp.ip, serverapp.port), timeout=5):
            pass
        announced = {"host": serverapp.ip, "port": serverapp.port}
        _write_atomically(target, announced)
    except OSError as error:
        serverapp.log.critical("onestop_jupyter: cannot announce the server: %s", error)
        serverapp.stop()
        return
    # Gone with the server (a normal stop: the job's end, its time limit, scancel),
    # so no one takes an old address for a live server.
    atexit.register(_forget, target, announced)
    serverapp.log.info("onestop_jupyter: listening on %s:%s", serverapp.ip, serverapp.port)


def _forget(target: Path, announced: dict[str, Any]) -> None:
    try:
        if json.loads(target.read_text()) == announced:
            target.unlink()
    except (OSError, ValueError):
        pass


def _write_atomically(target: Path, data: dict[str, Any]) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(data, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, target)
