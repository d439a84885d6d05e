"""From a batch script written for sbatch to the submission form: its ``#SBATCH``
lines become form fields, and the script keeps only its commands.

jobs.submit refuses ``#SBATCH`` lines in a script (the form's fields are the one
place a job's settings come from), so a script file from someone's folder, or a
finished job's script read back from Slurm, is converted first and shown for
confirmation. Options the form has no field for are left out and named, line by
line, so nothing disappears silently.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field

# Long option -> the form field it fills.
FIELDS = {
    "--job-name": "name",
    "--partition": "partition",
    "--time": "time_minutes",
    "--nodes": "nodes",
    "--ntasks": "ntasks",
    "--cpus-per-task": "cpus_per_task",
    "--mem": "memory_mb",
    "--array": "array",
    "--chdir": "workdir",
    "--mail-user": "mail_on_end",
}
SHORT = {
    "-J": "--job-name",
    "-p": "--partition",
    "-t": "--time",
    "-N": "--nodes",
    "-n": "--ntasks",
    "-c": "--cpus-per-task",
    "-a": "--array",
    "-D": "--chdir",
    "-o": "--output",
    "-e": "--error",
    "-A": "--account",
}
# The lines the portal itself writes into every script it submits (see
# managers/execution/script.py): dropped without a word when a job is resubmitted.
PORTAL_OWN = re.compile(
    r"^--(output|error)=slurm-%(j|A_%a)\.(out|err)$|^--comment=onestop:|^--mail-type=END,FAIL$"
)
DIRECTIVE = re.compile(r"^\s*#SBATCH\b", re.IGNORECASE)
TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
MEMORY = re.compile(r"^(\d+)([KMGT]?)B?$", re.IGNORECASE)
WHOLE = re.compile(r"^\d+$")
WHY_LEFT_OUT = {
    "--output": "the portal names the output files itself (slurm-<job number>.out in the "
    "working folder), so the job's page can show them",
    "--error": "the portal names the error files itself (slurm-<job number>.err in the "
    "working folder), so the job's page can show them",
}


@dataclass
class Converted:
    """The form's values as text (like a posted form), the script without its
    ``#SBATCH`` lines, and what the person should know about what was left out."""

    fields: dict[str, str] = field(default_factory=dict)
    script: str = ""
    notes: list[str] = field(default_factory=list)
    read: int = 0  # how many settings were filled in from #SBATCH lines


def convert(script: str) -> Converted:
    """Read ``#SBATCH`` lines into fields; never raises, whatever the text is."""
    lines = script.replace("\r\n", "\n").split("\n")
    result = Converted()
    kept: list[str] = []
    commands_started = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if number == 1 and stripped.startswith("#!"):
            kept.append(line)
            continue
        if not DIRECTIVE.match(line):
            if stripped and not stripped.startswith("#"):
                commands_started = True
            kept.append(line)
            continue
        if commands_started:
            result.notes.append(
                f"Line {number} ({stripped}) was left out: it comes after the first command, "
                "where Slurm would ignore it too."
            )
            continue
        _read_line(number, stripped, result)
    result.script = "\n".join(kept)
    return result


def _read_line(number: int, line: str, result: Converted) -> None:
    try:
        tokens = shlex.split(line[len("#SBATCH") :], comments=True)
    except ValueError:
        result.notes.append(f"Line {number} ({line}) was left out: it could not be read.")
        return
    options = _options(tokens)
    if options is None:
        result.notes.append(f"Line {number} ({line}) was left out: it could not be read.")
        return
    for option, value in options:
        if PORTAL_OWN.match(f"{option}={value}"):
            continue
        target = FIELDS.get(option)
        if target is None:
            why = WHY_LEFT_OUT.get(option, "the form has no field for it")
            result.notes.append(f"Line {number} ({line}) was left out: {why}.")
            continue
        converted = _value(target, value)
        if converted is None:
            result.notes.append(
                f"Line {number} ({line}) was left out: the portal could not read "
                f"{value!r} as a value for {option}."
            )
            continue
        result.fields[target] = converted
        result.read += 1


def _options(tokens: list[str]) -> list[tuple[str, str]] | None:
    """``--name=value``, ``--name value``, ``-X value`` and ``-Xvalue``, in order."""
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token.startswith("--"):
            option, sep, value = token.partition("=")
            if not sep and position < len(tokens) and not tokens[position].startswith("-"):
                value = tokens[position]
                position += 1
        elif token.startswith("-") and len(token) >= 2:
            option = SHORT.get(token[:2], token[:2])
            value = token[2:]
            if not value and position < len(tokens):
                value = tokens[position]
                position += 1
        else:
            return None
        found.append((option, value))
    return found


def _value(target: str, value: str) -> str | None:
    """The form's text for a directive's value, or None if it cannot be read."""
    if target == "time_minutes":
        minutes = slurm_minutes(value)
        return None if minutes is None else str(minutes)
    if target == "memory_mb":
        megabytes = slurm_megabytes(value)
        return None if megabytes is None else str(megabytes)
    if target in ("nodes", "ntasks", "cpus_per_task"):
        return value if WHOLE.fullmatch(value) else None
    return value


def slurm_minutes(value: str) -> int | None:
    """Slurm's time formats (``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``,
    ``D-H:M:S``) in whole minutes, rounded up; None for anything else."""
    match = TIME.fullmatch(value.strip())
    if match is None:
        return None
    days, first, second, third = match.groups()
    numbers = [int(part) for part in (first, second, third) if part is not None]
    if days is not None:
        hours, minutes, seconds = [*numbers, 0, 0][:3]
        total = int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
    elif len(numbers) == 1:
        total = numbers[0] * 60
    elif len(numbers) == 2:
        total = numbers[0] * 60 + numbers[1]
    else:
        total = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    return max(1, math.ceil(total / 60))


def slurm_megabytes(value: str) -> int | None:
    """``--mem`` values (``500``, ``500M``, ``4G``, ``1T``, ``800K``) in MB, rounded up."""
    match = MEMORY.fullmatch(value.strip())
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2).upper()
    factor = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[unit]
    return math.ceil(amount * factor)
