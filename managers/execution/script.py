"""From a job request to a batch script that says exactly what was asked, and no more.

Every field is validated before it gets here (wrappers/jobs/verbs/jobs.py); this module still
refuses anything that could end an ``#SBATCH`` line or start a new one, so a field
can never smuggle in an option or a command. ``parse_directives`` reads a script
back, which the tests use to prove it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from managers.errors import OperationError

SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:@/+=%-]*$")
DIRECTIVE = re.compile(r"^#SBATCH\s+(--[a-z-]+)(?:=(.*))?$")


@dataclass(frozen=True)
class JobRequest:
    """What a person asked for; empty or zero means "the partition's default"."""

    script: str
    name: str = ""
    partition: str = ""
    nodes: int = 0
    ntasks: int = 0
    cpus_per_task: int = 0
    memory_mb: int = 0
    time_minutes: int = 0
    workdir: str = ""
    array: str = ""
    comment: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _value(option: str, value: str) -> str:
    if not SAFE_VALUE.fullmatch(value):
        raise OperationError(
            f"The value for {option} may only use letters, digits and . , : @ / + = % - _",
            "invalid",
        )
    return value


def directives(request: JobRequest) -> list[str]:
    """The ``#SBATCH`` lines for ``request``, each one option with one safe value."""
    options: list[tuple[str, str]] = []
    if request.name:
        options.append(("--job-name", request.name))
    if request.partition:
        options.append(("--partition", request.partition))
    if request.nodes:
        options.append(("--nodes", str(request.nodes)))
    if request.ntasks:
        options.append(("--ntasks", str(request.ntasks)))
    if request.cpus_per_task:
        options.append(("--cpus-per-task", str(request.cpus_per_task)))
    if request.memory_mb:
        options.append(("--mem", f"{request.memory_mb}M"))
    if request.time_minutes:
        options.append(("--time", str(request.time_minutes)))
    if request.workdir:
        options.append(("--chdir", request.workdir))
    if request.array:
        options.append(("--array", request.array))
    if request.comment:
        options.append(("--comment", request.comment))
    # Named explicitly so the portal knows where to find them (Slurm reports no path
    # for its default); %A_%a keeps array tasks apart, %j is the job itself.
    stem = "slurm-%A_%a" if request.array else "slurm-%j"
    options.append(("--output", f"{stem}.out"))
    options.append(("--error", f"{stem}.err"))
    return [f"#SBATCH {option}={_value(option, value)}" for option, value in options]


def build(request: JobRequest) -> str:
    """The whole script: the person's interpreter line, our directives, their body.

    ``#SBATCH`` lines in the body are refused rather than silently ignored: Slurm
    reads directives only before the first command, and a person who wrote one
    expects it to count, so they are told to use the form's fields instead.
    """
    lines = request.script.replace("\r\n", "\n").split("\n")
    shebang = lines[0] if lines and lines[0].startswith("#!") else "#!/bin/bash"
    body = lines[1:] if lines and lines[0].startswith("#!") else lines
    for line in body:
        if line.lstrip().upper().startswith("#SBATCH"):
            raise OperationError(
                "Your script contains an #SBATCH line. Please use the form's fields for "
                "the job's settings instead.",
                "invalid",
            )
    if "\x00" in request.script:
        raise OperationError("The script contains a NUL character.", "invalid")
    return "\n".join([shebang, *directives(request), *body]).rstrip("\n") + "\n"


def parse_directives(script: str) -> list[tuple[str, str]]:
    """What ``sbatch`` will read: the directives before the first command line."""
    found = []
    for line in script.split("\n")[1:]:
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        match = DIRECTIVE.match(stripped)
        if match:
            found.append((match.group(1), match.group(2) or ""))
    return found


def quoted(argv: list[str]) -> str:
    """For logs only: how the command would look in a shell (it never runs in one)."""
    return shlex.join(argv)
