"""What the portal does with a descriptor an agent handed over (files.read,
files.zip, files.upload_open): the agent opened it as the person, so the kernel has
already decided; here it is only read, written at an offset, measured and closed.

Kept in one module so the pages that stream transfers (wrappers/files/transfer.py)
import no I/O of their own (tests/verbs/test_layering.py).
"""

from __future__ import annotations

import asyncio
import os


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
