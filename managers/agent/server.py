"""The agent's serving loop, running as the user after the launcher dropped root.

One thread per connection (an agent serves one person; connections are few and
long-lived). Only the portal's service account may talk to it: every connection's
SO_PEERCRED is checked, and a stranger is logged as an audit event and dropped.
The agent exits by itself after ``idle_seconds`` without a request.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from typing import Any

from managers.agent import background, protocol
from managers.agent.operations import installed
from managers.errors import OperationError
from managers.logs import get_logger

_CRED = struct.Struct("3i")
CLOSING: dict[str, Any] = {"ok": False, "kind": "closing", "message": "The agent is exiting."}


def peer_uid(conn: socket.socket) -> int:
    _pid, uid, _gid = _CRED.unpack(
        conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    )
    return int(uid)


# Lines go to stderr, which the launcher pointed at the agent's log file; boot
# configured them (managers/logs.py) before anything was logged.
log = get_logger("onestop.agent")


class AgentServer:
    def __init__(
        self, listener: socket.socket, allowed_uid: int, idle_seconds: float, heavy_limit: int
    ) -> None:
        self.listener = listener
        self.allowed_uid = allowed_uid
        self.idle_seconds = idle_seconds
        self.heavy = threading.BoundedSemaphore(heavy_limit)
        self.heavy_limit = heavy_limit
        self.last_activity = time.monotonic()
        self.busy = 0
        self.closing = False
        self.lock = threading.Lock()
        self.log = log.bind(agent_uid=os.getuid())  # built after root was dropped

    def serve_forever(self) -> None:
        self.listener.settimeout(1.0)
        self.log.info("agent.started", pid=os.getpid())
        while True:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                with self.lock:
                    idle = time.monotonic() - self.last_activity
                    self.closing = (
                        self.busy == 0 and not background.busy() and idle > self.idle_seconds
                    )
                if self.closing:
                    self.log.info("agent.idle_exit", idle_seconds=round(idle, 1))
                    time.sleep(0.2)  # let handlers tell late requests we are closing
                    return
                continue
            uid = peer_uid(conn)
            if uid != self.allowed_uid:
                self.log.warning("audit", action="agent.connect", outcome="refused", peer_uid=uid)
                conn.close()
                continue
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    request, _ = protocol.receive(conn)
                except (protocol.ProtocolError, OSError):
                    return
                with self.lock:
                    closing = self.closing
                    if not closing:
                        self.busy += 1
                if closing:
                    # Decided to exit before this arrived: say so, do nothing; the
                    # portal then asks a fresh agent (nothing was done twice).
                    with contextlib.suppress(OSError):
                        protocol.send(conn, CLOSING)
                    return
                try:
                    reply, fds = self.answer(request)
                finally:
                    with self.lock:
                        self.busy -= 1
                        self.last_activity = time.monotonic()
                try:
                    protocol.send(conn, reply, fds)
                except OSError:
                    return
                finally:
                    for fd in fds:
                        os.close(fd)

    def answer(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        name = request.get("op")
        operation = installed().get(name) if isinstance(name, str) else None
        if operation is None:
            return {"ok": False, "kind": "unknown-op", "message": f"No such operation {name!r}"}, []
        args = request.get("args") or {}
        if operation.heavy and not self.heavy.acquire(blocking=False):
            return {
                "ok": False,
                "kind": "busy",
                "message": f"You already have {self.heavy_limit} large operations running. "
                "Please wait for one to finish and try again.",
            }, []
        try:
            result = operation.run(**args)
        except OperationError as error:
            return {"ok": False, "kind": error.kind, "message": error.message}, []
        except TypeError as error:
            return {"ok": False, "kind": "invalid", "message": f"Bad arguments: {error}"}, []
        except Exception as error:  # a bug or MemoryError: answer, and keep serving
            self.log.error("agent.operation_failed", op=name, error=repr(error))
            return {"ok": False, "kind": "internal", "message": "Something went wrong."}, []
        finally:
            if operation.heavy:
                self.heavy.release()
        if operation.returns_fd:
            return {"ok": True, "result": {"fd": 0}}, [int(result)]
        return {"ok": True, "result": result}, []
