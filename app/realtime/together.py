"""Run a socket's parts together until one of them ends.

Every long-lived socket here (``/ws``, a notebook's kernel bridged by the proxy) is a
few coroutines: one reading, one writing, one checking that the sign-in still holds.
When any of them ends, the socket is over and the others must not linger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def until_one_ends(*parts: Coroutine[Any, Any, None]) -> list[BaseException]:
    """Run ``parts`` until the first returns or fails, cancel the rest and wait for
    them; the errors of the parts that ended by themselves (for the log)."""
    tasks = [asyncio.create_task(part) for part in parts]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [
        error for task in done if not task.cancelled() and (error := task.exception()) is not None
    ]
