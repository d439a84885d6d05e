"""The portal's side of the agents: find or start a person's agent, ask it things.

Connections are kept per person and reused (a verb must cost well under a
millisecond of plumbing). A connection found dead before use (the agent exited
when idle, or was killed) is dropped and the agent launched again, so the call
still succeeds. All socket work, connecting included, runs in a pool of worker
threads of its own with timeouts, so one person's stopped or slow agent can hold
at most their own few calls, never the event loop or anyone else's.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from managers.agent import protocol
from managers.agent.operations import long_waits
from managers.errors import OperationError

CONNECT_SECONDS = 5.0
LAUNCH_SECONDS = 30.0
IN_FLIGHT_PER_PERSON = 8
# Operations that mostly wait (Operation.long_wait: a folder watch holds its call up
# to 25 s) get threads and a per-person allowance of their own, so open folder tabs
# never take the threads or the slots that everyone's quick calls need.
# Above the agent's own cap (managers/files/watch.py, 4), which refuses a further wait
# at once and in words; this only bounds the threads one person can hold.
WAITS_PER_PERSON = 8
IDLE_PER_PERSON = 4


class AgentUnavailable(OperationError):
    """No agent could be reached or started for this person."""


class _NotDelivered(Exception):
    """The request could not even be sent: the agent never saw it."""


def default_launch_command() -> list[str]:
    """Root starts agents directly; anyone else goes through the one sudo rule."""
    onestop = str(Path(sys.executable).with_name("onestop"))
    if os.geteuid() == 0:
        return [onestop, "agent-launch"]
    return ["sudo", "--non-interactive", onestop, "agent-launch"]


class AgentClient:
    def __init__(
        self,
        runtime_dir: str,
        launch_command: list[str] | None = None,
        timeout: float = 60.0,
        threads: int = 64,
    ) -> None:
        self.runtime_dir = Path(runtime_dir)
        self.launch_command = launch_command or default_launch_command()
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="agent-io")
        self._waits = ThreadPoolExecutor(threads * 4, thread_name_prefix="agent-wait")
        self._idle: dict[str, list[socket.socket]] = defaultdict(list)
        self._launching: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._in_flight: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(IN_FLIGHT_PER_PERSON)
        )
        self._waiting: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(WAITS_PER_PERSON)
        )

    async def call(
        self, unix_name: str, op: str, args: dict[str, Any]
    ) -> tuple[dict[str, Any], list[int]]:
        """The operation's result and any file descriptors that came with it.

        Raises OperationError with the agent's own words when the work failed, and
        AgentUnavailable when no agent could be reached.
        """
        body, fds = await self.call_raw(unix_name, op, args)
        try:
            reply = json.loads(body)
        except ValueError as error:
            _close_all(fds)
            raise AgentUnavailable("Your personal helper process answered nonsense.") from error
        if not reply.get("ok"):
            _close_all(fds)
            raise OperationError(str(reply.get("message")), str(reply.get("kind", "failed")))
        return reply.get("result") or {}, fds

    async def call_raw(
        self, unix_name: str, op: str, args: dict[str, Any]
    ) -> tuple[bytes, list[int]]:
        """The agent's reply frame undecoded (``{"ok": ..., "result": ...}``), for
        callers that validate it in one pass, and any descriptors that came with it."""
        request = {"op": op, "args": args}
        waits = op in long_waits()
        allowance = (self._waiting if waits else self._in_flight)[unix_name]
        executor = self._waits if waits else self._executor
        async with allowance:
            for attempt in range(2):
                sock, reused = await self._connection(unix_name)
                try:
                    body, fds = await self._in_thread(
                        self._roundtrip, sock, request, executor=executor
                    )
                except _NotDelivered as error:
                    sock.close()
                    # A reused connection whose agent died since: nothing was done, so
                    # asking a fresh agent once is safe.
                    if reused and attempt == 0:
                        continue
                    raise AgentUnavailable(
                        "Your personal helper process could not be reached.", "agent-unreachable"
                    ) from error
                except (protocol.ProtocolError, OSError) as error:
                    sock.close()
                    raise AgentUnavailable(
                        "Your personal helper process stopped while working. Please try again.",
                        "agent-lost",
                    ) from error
                pool = self._idle[unix_name]
                if len(pool) < IDLE_PER_PERSON:
                    pool.append(sock)
                else:
                    sock.close()
                return body, fds
        raise AssertionError("unreachable")

    def close(self) -> None:
        for sockets in self._idle.values():
            for sock in sockets:
                sock.close()
        self._idle.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._waits.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(
        self, function: Any, *args: Any, executor: ThreadPoolExecutor | None = None
    ) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor or self._executor, function, *args)

    def _roundtrip(self, sock: socket.socket, request: dict[str, Any]) -> tuple[bytes, list[int]]:
        sock.settimeout(self.timeout)
        try:
            protocol.send(sock, request)
        except OSError as error:
            raise _NotDelivered from error
        body, fds = protocol.receive_raw(sock, with_fds=True)
        if len(body) < 200 and b'"closing"' in body and json.loads(body).get("kind") == "closing":
            raise _NotDelivered("the agent was exiting and did nothing")
        return body, fds

    async def _connection(self, unix_name: str) -> tuple[socket.socket, bool]:
        """A connection to the person's agent, and whether it was reused from the pool."""
        pool = self._idle[unix_name]
        while pool:
            sock = pool.pop()
            if _alive(sock):
                return sock, True
            sock.close()
        path = self.runtime_dir / f"{unix_name}.sock"
        try:
            return await self._in_thread(_connect, path), False
        except OSError:
            pass
        async with self._launching[unix_name]:
            try:
                return await self._in_thread(_connect, path), False
            except OSError:
                await self._launch(unix_name)
            try:
                return await self._in_thread(_connect, path), False
            except OSError as error:
                raise AgentUnavailable(
                    "Your personal helper process could not be reached.", "agent-unreachable"
                ) from error

    async def _launch(self, unix_name: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *self.launch_command,
            unix_name,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), LAUNCH_SECONDS)
        except TimeoutError as error:
            process.kill()
            await process.wait()
            raise AgentUnavailable(
                "Your personal helper process took too long to start.", "launch-timeout"
            ) from error
        if process.returncode != 0:
            detail = stderr.decode(errors="replace").strip()
            if "password is required" in detail or "not allowed" in detail or "sudoers" in detail:
                raise AgentUnavailable(
                    "Configuration error: the portal's service account may not start agents. "
                    "Add the sudo rule from the README (section 'The service account').",
                    "launcher-not-allowed",
                )
            raise AgentUnavailable(
                f"Your personal helper process could not be started: {detail[-300:]}",
                "launch-failed",
            )


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _connect(path: Path) -> socket.socket:
    """Blocking, in a worker thread, with a timeout: a stopped agent's full backlog
    must not hang anything but this one attempt."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_SECONDS)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def _alive(sock: socket.socket) -> bool:
    """An idle connection with something to read has been closed by the agent."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    try:
        return not poller.poll(0)
    except OSError:
        return False
