"""The agent protocol between login nodes: a TLS server that forwards to local agents.

A portal on one login node asks this gateway, on another, to run a person's
operation there. The gateway runs as the portal's service account and passes each
request to its node's own agents through the ordinary ``AgentClient``, so the
launcher, the SO_PEERCRED check and the kernel's permission checks all apply as
they do locally. What the gateway adds is who may ask: only a peer whose
certificate was signed by the configured CA gets past the handshake; everyone
else is refused before a single frame is read, and the refusal is logged.

Frames are the agent protocol's (4-byte big-endian length, then a JSON object):

- request ``{"user": NAME, "op": OP, "args": {...}}``
- reply ``{"ok": true, "result": {...}, "streams": N}`` or
  ``{"ok": false, "kind": KIND, "message": SENTENCE, "unavailable": BOOL}``
- when N > 0 (an operation that hands over open files, such as ``files.read``), N
  streams follow in order, each as ``{"chunk": BASE64}`` frames of at most
  ``CHUNK_SIZE`` bytes of data and then ``{"end": true}``, or ``{"end": true,
  "error": {"kind": ..., "message": ...}}`` when reading failed part way.

One request at a time per connection; a portal wanting more opens more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import json
import os
import re
import signal
import ssl
import time
from typing import Any

from managers.agent import protocol
from managers.agent.client import AgentClient, AgentUnavailable
from managers.agent.operations import remote_names
from managers.errors import OperationError
from managers.logs import get_logger

__all__ = ["CHUNK_SIZE", "AgentGateway", "parse_listen", "read_frame", "write_frame"]

CHUNK_SIZE = 256 * 1024

# Lines on stderr (the service manager's journal), configured by ``onestop
# agent-gateway`` through managers/logs.py like the portal's and the agents'.
log = get_logger("onestop.gateway")


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    """One frame from an asyncio stream; ProtocolError when the peer went away or
    sent something that is not a frame of a JSON object."""
    try:
        head = await reader.readexactly(protocol.HEADER.size)
        (size,) = protocol.HEADER.unpack(head)
        if size > protocol.MAX_FRAME:
            raise protocol.ProtocolError(f"frame of {size} bytes is over the limit")
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError as error:
        raise protocol.ProtocolError("the peer closed the connection") from error
    try:
        message = json.loads(body)
    except ValueError as error:
        raise protocol.ProtocolError("a frame that is not JSON") from error
    if not isinstance(message, dict):
        raise protocol.ProtocolError("a frame that is not a JSON object")
    return message


async def write_frame(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    """One frame, waiting while the peer is slow to read (so memory stays bounded)."""
    writer.write(protocol.encode(message))
    await writer.drain()


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) into its parts; ValueError if malformed."""
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen wants HOST:PORT, such as 127.0.0.1:7443, not {text!r}")
    return host, int(port)


class AgentGateway:
    """Serves the agent protocol to certified peers over TLS, one task per connection.

    ``context`` must require client certificates (see ``tls.server_context``); the
    handshake is done by the gateway itself, after accepting the TCP connection, so
    that a refused handshake can be logged with the peer's address and reason.
    """

    def __init__(
        self,
        agents: AgentClient,
        context: ssl.SSLContext,
        *,
        name_pattern: str,
        idle_seconds: float = 300.0,
        handshake_seconds: float = 10.0,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if context.verify_mode != ssl.CERT_REQUIRED:
            raise ValueError("The gateway's TLS context must require client certificates.")
        self.agents = agents
        self.context = context
        self.name_pattern = name_pattern
        self.idle_seconds = idle_seconds
        self.handshake_seconds = handshake_seconds
        self.chunk_size = chunk_size
        self.log = log.bind(gateway_pid=os.getpid())

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Listen on ``host:port`` (port 0 picks a free one); the caller closes it."""
        return await asyncio.start_server(self._connection, host, port)

    async def run(self, host: str, port: int) -> None:
        """Serve until SIGTERM or SIGINT. The address actually bound is logged, so a
        caller that asked for port 0 can learn the port from the log."""
        server = await self.start(host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        bound = [sock.getsockname()[:2] for sock in server.sockets]
        self.log.info(
            "gateway.listening", addresses=[f"{h}:{p}" for h, p in bound], port=bound[0][1]
        )
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            self.agents.close()
            self.log.info("gateway.stopped")

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _address(writer.get_extra_info("peername"))
        try:
            await writer.start_tls(self.context, ssl_handshake_timeout=self.handshake_seconds)
        except (OSError, ValueError) as error:  # ssl.SSLError, resets and timeouts
            self.log.warning(
                "audit", action="gateway.connect", outcome="refused", peer=peer, reason=_why(error)
            )
            writer.transport.abort()
            return
        client = _common_name(writer.get_extra_info("peercert"))
        self.log.info(
            "audit", action="gateway.connect", outcome="accepted", peer=peer, client=client
        )
        served = 0
        try:
            while True:
                try:
                    request = await asyncio.wait_for(read_frame(reader), self.idle_seconds)
                except (protocol.ProtocolError, OSError):  # closed, idle too long, or garbage
                    break
                served += 1
                await self._answer(request, writer, client)
        except OSError:  # the peer went away while we were answering
            pass
        finally:
            self.log.info("gateway.disconnect", peer=peer, client=client, requests=served)
            writer.close()
            with contextlib.suppress(OSError):
                await asyncio.wait_for(writer.wait_closed(), self.handshake_seconds)

    async def _answer(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, client: str
    ) -> None:
        """Run one request on the local agent and write its reply (and streams)."""
        started = time.monotonic()
        user, op, args = request.get("user"), request.get("op"), request.get("args") or {}
        fds: list[int] = []
        if not (
            isinstance(user, str)
            and re.fullmatch(self.name_pattern, user)
            and isinstance(op, str)
            and op in remote_names()
            and isinstance(args, dict)
        ):
            outcome = "invalid"
            reply: dict[str, Any] = {
                "ok": False,
                "kind": "invalid",
                "message": "The request must name an acceptable account, an operation "
                "other nodes may ask for, and an object of arguments.",
                "unavailable": False,
            }
        else:
            try:
                result, fds = await self.agents.call(user, op, args)
            except OperationError as error:
                outcome = error.kind
                reply = {
                    "ok": False,
                    "kind": error.kind,
                    "message": error.message,
                    "unavailable": isinstance(error, AgentUnavailable),
                }
            else:
                outcome = "ok"
                reply = {"ok": True, "result": result, "streams": len(fds)}
        try:
            await write_frame(writer, reply)
            for fd in fds:
                await self._stream(fd, writer)
        except OSError:
            outcome = "undelivered"  # the peer left before the reply or stream was through
            raise
        finally:
            for fd in fds:
                os.close(fd)
            self.log.info(
                "gateway.call",
                client=client,
                user=user,
                op=op,
                outcome=outcome,
                ms=round((time.monotonic() - started) * 1000, 2),
            )

    async def _stream(self, fd: int, writer: asyncio.StreamWriter) -> None:
        """The open file as chunk frames, read in a worker thread (disks can be slow)
        and written no faster than the peer takes them."""
        while True:
            try:
                frame = await asyncio.to_thread(self._chunk_frame, fd)
            except OSError as error:
                name = errno.errorcode.get(error.errno or 0, "EIO")
                failure = {"kind": name, "message": "Reading the file failed part way."}
                await write_frame(writer, {"end": True, "error": failure})
                return
            if frame is None:
                await write_frame(writer, {"end": True})
                return
            writer.write(frame)
            await writer.drain()

    def _chunk_frame(self, fd: int) -> bytes | None:
        data = os.read(fd, self.chunk_size)
        if not data:
            return None
        return protocol.encode({"chunk": base64.b64encode(data).decode("ascii")})


def _common_name(cert: dict[str, Any] | None) -> str:
    """The subject CN of a verified peer certificate (the name we log and audit)."""
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return "?"


def _address(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _why(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    return type(error).__name__ + (f": {error}" if str(error) else "")
