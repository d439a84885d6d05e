"""Receiving an upload's pieces: written as they arrive, checked, and the whole file's
SHA-256 computed as the bytes pass.

Three kinds of work share the two or so cores of a login node, so none waits for
another. The event loop only receives (uvicorn hands over the body in pieces of up
to a few hundred KiB, passed on as they are: no joining copy). One thread of the
piece writes batches of them in order (so the part file never has a hole below its
end) and updates the piece's checksum right after, while the batch is still in the
processor's cache. The whole-file SHA-256 runs in one thread of the upload's own
that lives from piece to piece (``WholeDigest``): the answer to a piece never waits
for it, only the last piece's does. So between two pieces nothing drains but the
write of the last batch.

The digest lives in this process's memory. When it is missing or does not match
where the piece starts (the portal restarted, another portal took the earlier
pieces, or a piece was refused after its bytes had been fed), it is computed again
from the part file on disk, in that same thread, while the new piece arrives.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from starlette.requests import Request
from zlib_ng import zlib_ng

from app.verbs import descriptors

BATCH = 1024 * 1024  # bytes handed to the writing thread at once
IN_FLIGHT = 4  # batches a piece may have waiting for the writing thread
# Bytes the whole-file digest may fall behind: a few batches, so it reads them while
# they are still in the processor's cache (SHA-256 of cold memory costs half again).
DIGEST_LAG = 8 * 1024 * 1024
DIGESTS_KEPT = 128  # uploads whose digest this process keeps
DIGEST_IDLE = 15 * 60.0  # seconds after which an unused digest is let go


class _Crc32:
    """tus ``crc32`` (4 bytes, big-endian, zlib's polynomial): catches damage in
    transit at a fraction of SHA-256's cost. The page checks each piece with it and
    the whole file with SHA-256 (see ``WholeDigest``). zlib-ng's, the same CRC as
    zlib's: it uses the processor's carry-less multiply, about ten times faster."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib_ng.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


CHECKSUMS: dict[str, Any] = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "crc32": _Crc32}


class PieceRefused(Exception):
    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text, self.status = text, status


class WholeDigest:
    """The SHA-256 of an upload's first ``fed`` bytes, computed in a thread of its own.

    ``fed`` counts what was handed over, not what was hashed yet: ``value()`` waits
    for the rest. Bytes fed and then refused (a piece whose checksum failed, a
    dropped connection) make the digest wrong, so whoever sees that calls
    ``forget`` and the next piece starts again from the part file (``catch_up``).
    """

    def __init__(self) -> None:
        self.fed = 0
        self.used = time.monotonic()
        self._hasher = hashlib.sha256()
        # Its thread ends once this digest is let go and its queue is done (the
        # executor's own rule when it is garbage): a piece still using a digest that
        # WholeDigests dropped meanwhile finishes with it undisturbed.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="upload-digest")
        self._queued: deque[tuple[Future[None], int]] = deque()
        self._queued_bytes = 0

    def catch_up(self, fd: int, offset: int) -> None:
        """Make the digest cover exactly the part file's first ``offset`` bytes: if it
        does not already, they are read again from ``fd`` (a copy of it: the read goes
        on after the request that opened it has ended)."""
        self.used = time.monotonic()
        if self.fed == offset:
            return
        self._hasher = hashlib.sha256()
        self.fed = offset
        if offset:
            copy = descriptors.duplicate(fd)
            self._submit(_read_into, copy, self._hasher, offset, size=0)

    async def feed(self, buffers: list[bytes], size: int) -> None:
        """Hand over the next ``size`` bytes; waits only when the thread is far behind."""
        self.fed += size
        self.used = time.monotonic()
        self._submit(_update, self._hasher, buffers, size=size)
        while self._queued_bytes > DIGEST_LAG:
            await self._oldest()

    async def value(self) -> bytes:
        """The digest of all that was fed (a part file that could not be read again
        raises OSError)."""
        while self._queued:
            await self._oldest()
        return self._hasher.digest()

    def _submit(self, work: Any, *args: Any, size: int) -> None:
        self._queued.append((self._thread.submit(work, *args), size))
        self._queued_bytes += size

    async def _oldest(self) -> None:
        future, size = self._queued[0]
        try:
            await asyncio.wrap_future(future)
        finally:
            self._queued.popleft()
            self._queued_bytes -= size


def _update(hasher: Any, buffers: list[bytes]) -> None:
    for buffer in buffers:
        hasher.update(buffer)


def _read_into(fd: int, hasher: Any, stop: int) -> None:
    try:
        descriptors.hash_range(fd, hasher, 0, stop)
    finally:
        descriptors.close(fd)


class WholeDigests:
    """This process's whole-file digests, by upload; few, and let go when unused."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, WholeDigest] = OrderedDict()

    def get(self, key: str) -> WholeDigest:
        now = time.monotonic()
        for old in [k for k, item in self._kept.items() if now - item.used > DIGEST_IDLE]:
            self.forget(old)
        digest = self._kept.pop(key, None) or WholeDigest()
        self._kept[key] = digest
        while len(self._kept) > DIGESTS_KEPT:
            self.forget(next(iter(self._kept)))
        return digest

    def forget(self, key: str) -> None:
        self._kept.pop(key, None)


def _write_and_check(fd: int, batch: list[bytes], position: int, check: Any) -> None:
    descriptors.write_all(fd, batch, position)
    if check is not None:
        for buffer in batch:
            check.update(buffer)


async def receive_piece(
    request: Request,
    fd: int,
    offset: int,
    limit: int,
    algorithm: str,
    expected: bytes | None,
    whole: WholeDigest | None,
) -> int:
    """Write the body at ``offset`` while it arrives; the bytes written.

    With a checksum, the piece's last bytes are held back until the whole piece
    matched, so a part file that ends between piece boundaries holds an unchecked
    piece (wrappers/files/transfer.py ``_committed``); a piece that does not match is
    cut off again and refused (460). The caller forgets ``whole`` when this raises.
    """
    check = CHECKSUMS[algorithm]() if expected is not None else None
    writing = ThreadPoolExecutor(1, thread_name_prefix="upload-write")
    loop = asyncio.get_running_loop()
    pending: list[bytes] = []
    pending_size = received = 0
    position = offset
    busy: deque[asyncio.Future[None]] = deque()
    try:
        async for data in request.stream():
            if not data:
                continue
            received += len(data)
            if received > limit:
                raise PieceRefused("This piece goes past the end of the file.", 413)
            pending.append(data)
            pending_size += len(data)
            if pending_size > BATCH:
                # A checked piece keeps its latest buffer back (never empty).
                held = [pending.pop()] if check is not None else []
                if not pending:  # one buffer over a whole batch: wait for the next
                    pending = held
                    continue
                batch, pending = pending, held
                size = pending_size - sum(len(item) for item in held)
                pending_size -= size
                busy.append(
                    loop.run_in_executor(writing, _write_and_check, fd, batch, position, check)
                )
                if whole is not None:
                    await whole.feed(batch, size)
                position += size
                while len(busy) > IN_FLIGHT:
                    await busy.popleft()
    finally:
        while busy:
            await busy.popleft()
        writing.shutdown(wait=False)
    if check is not None:
        for buffer in pending:
            check.update(buffer)
        if not secrets.compare_digest(check.digest(), expected or b""):
            await descriptors.truncate(fd, offset)
            raise PieceRefused(
                "Checksum mismatch: this piece was damaged on the way; send it again.", 460
            )
    if pending:
        await asyncio.to_thread(descriptors.write_all, fd, pending, position)
        if whole is not None:
            await whole.feed(pending, pending_size)
    return received


__all__ = ["CHECKSUMS", "PieceRefused", "WholeDigest", "WholeDigests", "receive_piece"]
