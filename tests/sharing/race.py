"""The symlink race of the sharing tests: a thread that swaps a real folder and a
symlink under one name as fast as it can, so a verb on that name meets either, or a
half-made state, at any moment."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

ALICE = 2001


@contextlib.contextmanager
def swapping(swap: Path, real: Path, targets: list[Path]) -> Iterator[None]:
    """While inside, ``swap`` is in turn a symlink (to each of ``targets``, owned by
    alice), missing, and the real folder ``real``."""
    stop = threading.Event()
    folder = swap.parent

    def swapper() -> None:
        n = 0
        while not stop.is_set():
            target = targets[n % len(targets)]
            n += 1
            link = folder / ".link"
            try:
                link.unlink(missing_ok=True)
                link.symlink_to(target)
                os.lchown(link, ALICE, ALICE)
                os.replace(link, swap)  # a symlink now
                os.replace(real, folder / ".away")
                os.replace(folder / ".away", real)
                swap.unlink()
                os.rename(real, swap)  # the real folder now
                os.rename(swap, real)
            except OSError:
                pass

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
