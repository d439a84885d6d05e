"""The portal's side of another login node's agents, through that node's gateway.

``RemoteAgentClient`` has the same ``call`` as ``AgentClient`` and raises the same
errors, so the verb gate does not care which node does the work. An operation
that hands over an open file locally returns here the read end of a pipe: a
thread writes the streamed chunks into it, so callers read it exactly like a
local descriptor (and may even read it with blocking calls on the event loop).

Connections are kept and reused, one request at a time each; blocking socket
work runs in worker threads, as ``AgentClient`` does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import logging
import os
import select
import socket
import ssl
import threading
import time
from typing import Any

from managers.agent import protocol
from managers.agent.client import AgentUnavailable
from managers.errors import OperationError

__all__ = ["RemoteAgentClient"]

logger = logging.getLogger("onestop.agent.remote")

PIPE_SIZE = 1024 * 1024


class RemoteAgentClient:
    """Calls a person's agent on the login node behind the gateway at ``host:port``.

    ``ssl_context`` is a client context holding this portal's certificate (see
    ``tls.client_context``); the gateway's certificate must name ``host``. Idle
    connections older than ``idle_seconds`` are not reused (the gateway closes
    idle ones after a while; reusing a connection it is closing would fail a call).
    """

    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        pool_size: int = 4,
        idle_seconds: float = 60.0,
    ) -> None:
        self.host = host
        self.port = port
        self.context = ssl_context
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.pool_size = pool_size
        self.idle_seconds = idle_seconds
        self._idle: list[tuple[ssl.SSLSocket, float]] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    async def call(
        self, unix_name: str, op: str, args: dict[str, Any]
    ) -> tuple[dict[str, Any], list[int]]:
        """The operation's result and any file descriptors that came with it.

        Raises OperationError with the agent's own words when the work failed, and
        AgentUnavailable when the gateway could not be reached, refused this
        portal's certificate, or its node could not reach the person's agent.
        """
        _, reply, fds = await asyncio.to_thread(self._call, unix_name, op, args)
        if not reply.get("ok"):
            raise OperationError(str(reply.get("message")), str(reply.get("kind", "failed")))
        return reply.get("result") or {}, fds

    async def call_raw(
        self, unix_name: str, op: str, args: dict[str, Any]
    ) -> tuple[bytes, list[int]]:
        """As ``AgentClient.call_raw``: the reply frame undecoded (``{"ok": ...,
        "result": ...}``, plus the gateway's ``streams`` and ``unavailable``), for the
        verb gate that validates it in one pass. A failure of the work comes back
        in the frame; AgentUnavailable is raised as ``call`` raises it."""
        body, _, fds = await asyncio.to_thread(self._call, unix_name, op, args)
        return body, fds

    def close(self) -> None:
        """Close idle connections; ones still streaming a file close when done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for sock, _ in idle:
            sock.close()

    def _call(
        self, unix_name: str, op: str, args: dict[str, Any]
    ) -> tuple[bytes, dict[str, Any], list[int]]:
        """The reply frame raw and decoded, and the read ends of any streams. Raises
        AgentUnavailable only; a failed operation is for the caller to raise."""
        sock, fresh = self._checkout()
        try:
            protocol.send(sock, {"user": unix_name, "op": op, "args": args})
            body, _ = protocol.receive_raw(sock)
            reply = json.loads(body)
            if not isinstance(reply, dict):
                raise protocol.ProtocolError("a reply that is not a JSON object")
        except (protocol.ProtocolError, OSError, ValueError) as error:
            sock.close()
            raise self._failure(error, fresh) from error
        if not reply.get("ok"):
            self._checkin(sock)
            if reply.get("unavailable"):  # the far node could not reach the agent
                raise AgentUnavailable(str(reply.get("message")), str(reply.get("kind")))
            return body, reply, []
        streams = int(reply.get("streams") or 0)
        if not streams:
            self._checkin(sock)
            return body, reply, []
        readers, writers = [], []
        for _ in range(streams):
            read_end, write_end = os.pipe()
            with contextlib.suppress(OSError):  # fewer wake-ups; the default works too
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            os.set_blocking(write_end, False)
            readers.append(read_end)
            writers.append(write_end)
        threading.Thread(
            target=self._feed, args=(sock, writers), name="onestop-remote-stream", daemon=True
        ).start()
        return body, reply, readers

    def _feed(self, sock: ssl.SSLSocket, writers: list[int]) -> None:
        """Copy each stream's chunks into its pipe, then close the pipe (the reader
        sees end of file). If the reader goes away or stops reading for ``timeout``
        seconds, the connection is closed rather than drained: the gateway then
        stops reading the file. A failure is logged; the reader sees a short file."""
        reusable = False
        still_open = list(writers)  # each closed exactly once: fd numbers get reused
        try:
            while still_open:
                write_end = still_open[0]
                while True:
                    frame, _ = protocol.receive(sock)
                    if frame.get("end"):
                        if frame.get("error"):
                            logger.warning("remote stream from %s broke: %s", self.where, frame)
                        break
                    _write_all(write_end, base64.b64decode(frame["chunk"]), self.timeout)
                still_open.pop(0)
                os.close(write_end)
            reusable = True
        except (protocol.ProtocolError, OSError, KeyError, ValueError) as error:
            logger.warning("remote stream from %s ended early: %r", self.where, error)
        finally:
            for write_end in still_open:
                os.close(write_end)
            if reusable:
                self._checkin(sock)
            else:
                sock.close()

    def _checkout(self) -> tuple[ssl.SSLSocket, bool]:
        """An idle connection that is still open, or a new one (``fresh`` True)."""
        now = time.monotonic()
        stale: list[ssl.SSLSocket] = []
        found: ssl.SSLSocket | None = None
        with self._lock:
            while self._idle:
                sock, since = self._idle.pop()
                if now - since < self.idle_seconds and _alive(sock):
                    found = sock
                    break
                stale.append(sock)
        for sock in stale:
            sock.close()
        if found is not None:
            return found, False
        return self._connect(), True

    def _checkin(self, sock: ssl.SSLSocket) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.pool_size:
                self._idle.append((sock, time.monotonic()))
                return
        sock.close()

    def _connect(self) -> ssl.SSLSocket:
        try:
            raw = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as error:
            raise AgentUnavailable(
                f"The login node at {self.where} could not be reached.", "remote-unreachable"
            ) from error
        try:
            sock = self.context.wrap_socket(raw, server_hostname=self.host)
        except ssl.SSLCertVerificationError as error:
            raw.close()
            raise AgentUnavailable(
                f"The login node at {self.where} presented a certificate this portal "
                f"does not trust ({error.verify_message}).",
                "remote-untrusted",
            ) from error
        except OSError as error:
            raw.close()
            raise self._failure(error, fresh=True) from error
        sock.settimeout(self.timeout)
        return sock

    def _failure(self, error: BaseException, fresh: bool) -> AgentUnavailable:
        """The plain sentence for a connection that failed. On a new connection (TLS
        1.3 tells a client its certificate was refused only after the handshake, at
        its first read) it is a refusal; on a reused one the node went away."""
        if isinstance(error, TimeoutError):
            return AgentUnavailable(
                f"The login node at {self.where} did not answer within {self.timeout:g} seconds.",
                "remote-timeout",
            )
        if fresh:
            reason = error.reason if isinstance(error, ssl.SSLError) else None
            detail = f" ({reason})" if reason else ""
            return AgentUnavailable(
                f"The login node at {self.where} refused this portal's connection{detail}; "
                "check that the portal's certificate is signed by the CA the node trusts.",
                "remote-refused",
            )
        return AgentUnavailable(
            f"The login node at {self.where} stopped answering while working. Please try again.",
            "remote-lost",
        )


def _write_all(fd: int, data: bytes, timeout: float) -> None:
    """All of ``data`` into a non-blocking pipe, waiting at most ``timeout`` seconds
    at a time for the reader to make room. poll, not select: fds may exceed 1024."""
    view = memoryview(data)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    while view:
        if not poller.poll(timeout * 1000):
            raise TimeoutError("nobody read the stream")
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[written:]


def _alive(sock: ssl.SSLSocket) -> bool:
    """An idle connection with anything to read (a close, or stray bytes) is unusable."""
    if sock.pending():
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)
