"""Every Slurm command the portal runs goes through ``run``: an argument list, a
timeout, a clean environment, never a shell.

The environment is rebuilt rather than inherited so that no ``SLURM_*`` or
``SBATCH_*`` variable of the portal's own process changes what a command does.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from managers.scheduler.errors import SchedulerError

_KEEP = ("PATH", "LANG", "LC_ALL", "SLURM_CONF", "HOME", "TZ")


def clean_environment() -> dict[str, str]:
    env = {key: os.environ[key] for key in _KEEP if key in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env["LC_ALL"] = "C.UTF-8"
    return env


async def run(bin_dir: str, argv: list[str], limit_seconds: float) -> str:
    """Run one Slurm client command and return its standard output.

    Raises SchedulerError with a plain message when the command is missing, times
    out or fails; stderr and the exit code go into ``detail`` for the log.
    """
    program = str(Path(bin_dir) / argv[0])
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            *argv[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=clean_environment(),
        )
    except OSError as error:
        raise SchedulerError("The scheduler's tools cannot be run here.", str(error)) from error
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), limit_seconds)
    except TimeoutError as error:
        raise SchedulerError(
            "The scheduler is not answering right now.",
            f"{argv[0]} timed out after {limit_seconds}s",
        ) from error
    finally:
        if process.returncode is None:  # timed out or cancelled: leave no stray command
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise SchedulerError(
            "The scheduler is not answering right now.",
            f"{argv[0]} exited {process.returncode}: {stderr.decode(errors='replace')[-2000:]}",
        )
    return stdout.decode(errors="replace")
