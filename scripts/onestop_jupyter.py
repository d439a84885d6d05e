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
from pathlib import Path
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from traitlets import Unicode, default

HEADER = "X-Onestop-Notebook-Secret"
"""The request header carrying the secret (app/notebooks_proxy.py adds it)."""


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

    def get_user(self, handler: Any) -> User | None:
        sent = handler.request.headers.get(HEADER, "")
        if sent and hmac.compare_digest(sent.encode("utf-8", "replace"), self._secret):
            return self._user
        return None

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


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Nothing to add to the web app; the work is in the start hook below."""


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
