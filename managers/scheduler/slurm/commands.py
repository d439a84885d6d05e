"""Every Slurm command, in the portal or in a person's agent, runs through this module.

One argument list (never a shell), the program taken from ``slurm.bin_dir`` and from
nowhere else (a site with Slurm in ``/opt/slurm/bin`` must not run an older
``/usr/bin/sbatch`` by accident), a timeout, and a clean environment. ``run`` is for
the portal's event loop; ``run_sync`` for an agent, whose operations run in threads.
``call`` and ``call_sync`` run a ``Command`` (the argv and how to read its answer,
built once in ``batch.py`` or the adapter) and read the answer.

The environment is rebuilt rather than inherited so that no ``SLURM_*`` or
``SBATCH_*`` variable of the portal's own process changes what a command does.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from managers.scheduler.errors import SchedulerError

__all__ = [
    "DEFAULT_BIN_DIR",
    "PROGRAMS",
    "Command",
    "agent_bin_dir",
    "call",
    "call_sync",
    "check_bin_dir",
    "clean_environment",
    "program",
    "run",
    "run_sync",
    "set_agent_bin_dir",
]

T = TypeVar("T")

DEFAULT_BIN_DIR = "/usr/bin"
# The Slurm client commands the portal and its agents run; anything else is a bug.
PROGRAMS = frozenset({"sacct", "sbatch", "scancel", "scontrol", "sinfo", "squeue", "srun"})
_KEEP = ("PATH", "LANG", "LC_ALL", "SLURM_CONF", "HOME", "TZ")


def clean_environment(bin_dir: str = "") -> dict[str, str]:
    """The few variables a Slurm command needs, and ``bin_dir`` first on PATH when it
    is not there yet: a job inherits sbatch's environment, so a script that calls
    ``srun`` (or the notebook job's ``scontrol``) finds the site's Slurm too."""
    env = {key: os.environ[key] for key in _KEEP if key in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    if bin_dir and bin_dir not in env["PATH"].split(os.pathsep):
        env["PATH"] = os.pathsep.join([bin_dir, env["PATH"]])
    env["LC_ALL"] = "C.UTF-8"
    return env


def check_bin_dir(bin_dir: str) -> str:
    """``bin_dir`` itself if it is an absolute path; ValueError saying what to write if
    not (a relative folder would depend on where each process happens to run)."""
    if not bin_dir or not Path(bin_dir).is_absolute():
        raise ValueError(
            f"slurm.bin_dir must be the absolute path of the folder that holds Slurm's "
            f"commands (sbatch, squeue...), such as /usr/bin or /opt/slurm/bin; "
            f"{bin_dir!r} is not an absolute path."
        )
    return bin_dir


def program(bin_dir: str, name: str) -> str:
    """The full path of Slurm command ``name`` in ``bin_dir``."""
    if name not in PROGRAMS:
        raise ValueError(f"{name!r} is not one of the Slurm commands the portal runs.")
    return str(Path(check_bin_dir(bin_dir)) / name)


def _failed(argv: Sequence[str], returncode: int | None, stderr: str) -> SchedulerError:
    lines = stderr.strip().splitlines()
    return SchedulerError(
        "The scheduler is not answering right now.",
        f"{argv[0]} exited {returncode}: {stderr[-2000:]}",
        kind="refused",
        refusal=lines[-1] if lines else "failed",
    )


def _timed_out(argv: Sequence[str], limit_seconds: float) -> SchedulerError:
    return SchedulerError(
        "The scheduler is not answering right now.",
        f"{argv[0]} timed out after {limit_seconds}s",
    )


def _cannot_run(error: OSError) -> SchedulerError:
    return SchedulerError("The scheduler's tools cannot be run here.", str(error))


async def run(
    bin_dir: str, argv: Sequence[str], limit_seconds: float, stdin: str | None = None
) -> str:
    """Run one Slurm client command and return its standard output.

    ``argv[0]`` is the command's bare name (``squeue``), looked up in ``bin_dir``;
    ``stdin`` is written to its standard input (a batch script for sbatch).
    Raises SchedulerError with a plain message when the command is missing, times
    out or fails; stderr and the exit code go into ``detail`` for the log.
    """
    path = program(bin_dir, argv[0])
    try:
        process = await asyncio.create_subprocess_exec(
            path,
            *argv[1:],
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=clean_environment(bin_dir),
        )
    except OSError as error:
        raise _cannot_run(error) from error
    data = None if stdin is None else stdin.encode()
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(data), limit_seconds)
    except TimeoutError as error:
        raise _timed_out(argv, limit_seconds) from error
    finally:
        if process.returncode is None:  # timed out or cancelled: leave no stray command
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise _failed(argv, process.returncode, stderr.decode(errors="replace"))
    return stdout.decode(errors="replace")


def run_sync(
    bin_dir: str, argv: Sequence[str], limit_seconds: float, stdin: str | None = None
) -> str:
    """``run`` for a thread that may block (an agent's operation); same errors."""
    path = program(bin_dir, argv[0])
    try:
        done = subprocess.run(  # an argument list, never a shell
            [path, *argv[1:]],
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=limit_seconds,
            env=clean_environment(bin_dir),
            check=False,
        )
    except subprocess.TimeoutExpired as error:  # subprocess.run killed it
        raise _timed_out(argv, limit_seconds) from error
    except OSError as error:
        raise _cannot_run(error) from error
    if done.returncode != 0:
        raise _failed(argv, done.returncode, done.stderr)
    return done.stdout


@dataclass(frozen=True)
class Command(Generic[T]):
    """One Slurm command: its argument list, what goes to its standard input, how its
    output reads, and what a refusal means when it is not a failure (``refused``
    returns the result, or raises the error again)."""

    argv: tuple[str, ...]
    read: Callable[[str], T]
    stdin: str | None = None
    refused: Callable[[SchedulerError], T] | None = None


async def call(bin_dir: str, command: Command[T], limit_seconds: float) -> T:
    """Run ``command`` (see ``run``) and read its answer."""
    try:
        output = await run(bin_dir, command.argv, limit_seconds, command.stdin)
    except SchedulerError as error:
        if error.kind == "refused" and command.refused is not None:
            return command.refused(error)
        raise
    return command.read(output)


def call_sync(bin_dir: str, command: Command[T], limit_seconds: float) -> T:
    """``call`` for a thread that may block (an agent's operation)."""
    try:
        output = run_sync(bin_dir, command.argv, limit_seconds, command.stdin)
    except SchedulerError as error:
        if error.kind == "refused" and command.refused is not None:
            return command.refused(error)
        raise
    return command.read(output)


# A person's agent is a process of its own, started by the privileged launcher: it
# learns the site's slurm.bin_dir once, from the launcher's command line, before it
# serves anything (managers/agent/launcher.py). The portal never reads this: its
# SlurmAdapter is given bin_dir explicitly.
_agent = {"bin_dir": DEFAULT_BIN_DIR}


def set_agent_bin_dir(bin_dir: str) -> None:
    """Where this agent's Slurm commands are (refused unless an absolute path)."""
    _agent["bin_dir"] = check_bin_dir(bin_dir)


def agent_bin_dir() -> str:
    return _agent["bin_dir"]
