"""The agent wire format: a 4-byte big-endian length, then a UTF-8 JSON object.

Open file descriptors ride along as SCM_RIGHTS ancillary data on Unix sockets, so a
large read is handed to the portal as an open file: the kernel checked the
permission as the user, and the bytes never pass through the agent.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

from pydantic_core import to_json

HEADER = struct.Struct(">I")
MAX_FRAME = 16 * 1024 * 1024
MAX_FDS = 4


class ProtocolError(Exception):
    """The peer sent something that is not a frame, or went away mid-frame."""


def encode(message: dict[str, Any]) -> bytes:
    # pydantic-core's serializer is several times faster than json.dumps on the
    # thousand-entry listings that dominate agent traffic.
    body = to_json(message, fallback=str)
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(body)} bytes is over the limit")
    return HEADER.pack(len(body)) + body


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = encode(message)
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        if sent < len(data):
            sock.sendall(data[sent:])
    else:
        sock.sendall(data)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProtocolError("the peer closed the connection")
        chunks += chunk
    return bytes(chunks)


def receive(sock: socket.socket, *, with_fds: bool = False) -> tuple[dict[str, Any], list[int]]:
    """One message, and the descriptors that came with it (only on Unix sockets)."""
    body, fds = receive_raw(sock, with_fds=with_fds)
    try:
        message = json.loads(body)
    except ValueError as error:
        raise ProtocolError("a frame that is not JSON") from error
    if not isinstance(message, dict):
        raise ProtocolError("a frame that is not a JSON object")
    return message, fds


def receive_raw(sock: socket.socket, *, with_fds: bool = False) -> tuple[bytes, list[int]]:
    """One frame's JSON body, undecoded, so a caller can validate it in one pass."""
    fds: list[int] = []
    if with_fds and sock.family == socket.AF_UNIX:
        head, fds, _flags, _addr = socket.recv_fds(sock, HEADER.size, MAX_FDS)
        if not head:
            raise ProtocolError("the peer closed the connection")
        if len(head) < HEADER.size:
            head += _recv_exactly(sock, HEADER.size - len(head))
    else:
        head = _recv_exactly(sock, HEADER.size)
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        for fd in fds:
            os.close(fd)
        raise ProtocolError(f"frame of {size} bytes is over the limit")
    return _recv_exactly(sock, size), fds
