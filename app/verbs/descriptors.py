"""What the portal does with a descriptor an agent handed over (files.read,
files.zip, files.upload_open): the agent opened it as the person, so the kernel has
already decided; here it is only read, written at an offset, measured and closed.

Kept in one module so the verbs and the pages that use these descriptors (job
output, previews, transfers) import no I/O of their own (tests/verbs/test_layering.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Protocol

from pydantic import BaseModel

READ_BLOCK = 1024 * 1024


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


def info(fd: int) -> os.stat_result:
    return os.fstat(fd)


def close(fd: int) -> None:
    os.close(fd)


async def read(fd: int, want: int, position: int | None) -> bytes:
    """Up to ``want`` bytes at ``position`` (from the current place for a pipe when
    None), in a worker thread: a cold disk must not stall the event loop."""
    if position is None:
        return await asyncio.to_thread(os.read, fd, want)
    return await asyncio.to_thread(os.pread, fd, want, position)


def duplicate(fd: int) -> int:
    """A second descriptor on the same open file, for work that outlives the request
    that got the first one (the upload's whole-file digest catching up)."""
    return os.dup(fd)


def hash_range(fd: int, hasher: Hasher, start: int, stop: int) -> None:
    """Feed bytes ``start`` to ``stop`` of the file to ``hasher`` (blocking: call it from
    a thread); a file shorter than ``stop`` raises, since the digest would be wrong."""
    position = start
    while position < stop:
        data = os.pread(fd, min(READ_BLOCK, stop - position), position)
        if not data:
            raise OSError(5, "The upload's part file is shorter than what arrived")
        hasher.update(data)
        position += len(data)


async def truncate(fd: int, length: int) -> None:
    await asyncio.to_thread(os.ftruncate, fd, length)


def write_all(fd: int, buffers: list[bytes] | list[memoryview], offset: int) -> None:
    """All of ``buffers`` at ``offset``; a short write (a full disk) raises."""
    for start in range(0, len(buffers), 512):  # under IOV_MAX
        group = buffers[start : start + 512]
        total = sum(len(item) for item in group)
        done = os.pwritev(fd, group, offset)
        while done < total:  # rare: finish the rest plainly
            rest = b"".join(group)[done:]
            more = os.pwrite(fd, rest, offset + done)
            if more == 0:
                raise OSError(28, "No space left on device")
            done += more
        offset += total


class OpenFile(BaseModel):
    """An open, read-only descriptor; the caller must close it (or use ``tail``)."""

    fd: int

    def tail(self, limit: int) -> tuple[str, bool]:
        """The last ``limit`` bytes as text, whether there was more, and the file closed."""
        try:
            size = os.fstat(self.fd).st_size
            os.lseek(self.fd, max(0, size - limit), os.SEEK_SET)
            data = os.read(self.fd, limit)
        finally:
            os.close(self.fd)
        return data.decode("utf-8", errors="replace"), size > limit

    def head(self, limit: int) -> tuple[bytes, int]:
        """The first ``limit`` bytes and the file's whole size, and the file closed."""
        try:
            size = os.fstat(self.fd).st_size
            chunks, left = [], limit
            while left > 0:
                chunk = os.read(self.fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(self.fd)
        return b"".join(chunks), size

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The whole file in pieces (for a streamed response), closed at the end."""
        try:
            while chunk := os.read(self.fd, size):
                yield chunk
        finally:
            os.close(self.fd)
