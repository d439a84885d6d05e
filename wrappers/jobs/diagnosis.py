"""Where a failed job is explained: why it likely failed and what to try, in plain words.

The job page (and the Help tool's context) call :func:`diagnose` with what they
already have: the job as Slurm reports it (state, reason, exit code, time limit),
what accounting says it asked for and used (``JobUsage``, optional) and the end of
its error output, read as its owner. The function is pure: no Slurm, no files.

The causes are tried in the order of ``RULES`` and the first that matches wins, so
the cause comes before its consequences: a working folder that was missing (Slurm
then runs the job in /tmp) explains the "No such file" that follows; running out of
memory explains the "Killed". Output is only searched for a job that did not finish
by itself: a job that printed "Permission denied" and still COMPLETED is left alone
(the one exception is the missing working folder, which Slurm reports and then
carries on elsewhere, so even a completed job ran in the wrong place).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.web.words import seconds_words
from managers.scheduler import Job, JobState, JobUsage

# Rounded suggestions, in MB and minutes: about twice what was used or asked.
ROUND_MB = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)
ROUND_MINUTES = (15, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 2880, 4320, 10080)
# Why a waiting job cannot start with what it asks: no node or partition could ever
# run it as asked (Slurm's pending reasons). Busy nodes ("Resources") are not here.
NEVER_FITS = frozenset(
    {"PartitionConfig", "BadConstraints", "ReqNodeNotAvail", "PartitionNodeLimit"}
)
# Slurm's words when sbatch refuses a request no node can hold.
REFUSED = re.compile(
    r"Requested node configuration is not available|Memory specification can not be satisfied"
    r"|CPU count per node can not be satisfied|Node count specification invalid",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Facts:
    """Everything a rule may look at, gathered once."""

    job: Job
    errors: str  # the end of its error output ("" when none or not readable)
    usage: JobUsage | None = None


@dataclass(frozen=True)
class Diagnosis:
    """What happened, why it likely happened, what to try; ``change`` is the form
    fields a resubmission would change (``{"memory_mb": 8192}``), empty if none."""

    key: str
    what: str
    why: str
    tries: list[str]
    change: dict[str, int] = field(default_factory=dict)
    button: str = ""  # the words of the button that resubmits with ``change``

    def as_text(self) -> str:
        """The same words as one block, for a help ticket."""
        lines = [self.what, self.why, *(f"- {tried}" for tried in self.tries)]
        return "\n".join(lines)


Rule = Callable[[Facts], Diagnosis | None]


def _round_up(value: float, steps: tuple[int, ...]) -> int:
    for step in steps:
        if step >= value:
            return step
    return int(math.ceil(value / steps[-1]) * steps[-1])


def _mb_words(mb: float) -> str:
    if mb >= 1024:
        gb = mb / 1024
        return f"{gb:.0f} GB" if gb == int(gb) or gb >= 10 else f"{gb:.1f} GB"
    return f"{mb:.0f} MB"


# slurmstepd: "StepId=22.batch exceeded memory limit (429195264 > 104857600), being killed"
OVER_LIMIT = re.compile(r"exceeded memory limit \((\d+) > (\d+)\)")
OOM_WORDS = re.compile(
    r"Exceeded (?:job|step) memory limit|oom[-_ ]kill|Out of memory|MemoryError"
    r"|std::bad_alloc|Cannot allocate memory",
    re.IGNORECASE,
)


KILLED = re.compile(r"\bKilled\b")


def _killed_near_its_memory(facts: Facts) -> bool:
    """A bare "Killed" is a memory cause only when accounting saw it near its limit."""
    usage = facts.usage
    if not KILLED.search(facts.errors) or usage is None:
        return False
    peak, asked = usage.memory_peak_kb, usage.memory_requested_kb
    return bool(peak and asked and peak >= 0.9 * asked)


def out_of_memory(facts: Facts) -> Diagnosis | None:
    job, errors = facts.job, facts.errors
    if (
        job.state is not JobState.OUT_OF_MEMORY
        and not OOM_WORDS.search(errors)
        and not _killed_near_its_memory(facts)
    ):
        return None
    used_mb = asked_mb = None
    found = OVER_LIMIT.findall(errors)
    if found:
        used_mb = max(int(used) for used, _ in found) / 2**20
        asked_mb = int(found[-1][1]) / 2**20
    if facts.usage is not None:
        if facts.usage.memory_peak_kb:
            used_mb = max(used_mb or 0, facts.usage.memory_peak_kb / 1024)
        if facts.usage.memory_requested_kb and asked_mb is None:
            asked_mb = facts.usage.memory_requested_kb / 1024
    # What it used when it was stopped is a floor, not what it needs: twice that, or
    # twice what it asked for when the use was not measured.
    basis = max(used_mb or 0, asked_mb or 0)
    suggest = _round_up(2 * basis, ROUND_MB) if basis else 8192
    asked = f"the {_mb_words(asked_mb)} it asked for" if asked_mb else "it had"
    used = f" It had reached about {_mb_words(used_mb)} when it was stopped." if used_mb else ""
    return Diagnosis(
        "memory",
        "It ran out of memory: the cluster stopped it.",
        f"The job needed more memory than {asked}.{used}",
        [
            f"Ask for more memory, for example {_mb_words(suggest)}, and submit it again.",
            "If it reads a big file at once, reading it in parts needs less memory.",
        ],
        {"memory_mb": suggest},
        f"Submit again with {_mb_words(suggest)} of memory",
    )


def time_limit(facts: Facts) -> Diagnosis | None:
    job = facts.job
    if job.state is not JobState.TIMEOUT and "DUE TO TIME LIMIT" not in facts.errors:
        return None
    limit = job.time_limit_minutes
    if not limit:
        return Diagnosis(
            "time",
            "It ran out of time: the cluster stopped it at its time limit.",
            "The job ran longer than the time it asked for.",
            ["Ask for more time and submit it again."],
        )
    suggest = _round_up(2 * limit, ROUND_MINUTES)
    return Diagnosis(
        "time",
        "It ran out of time: the cluster stopped it at its time limit.",
        f"It asked for {seconds_words(limit * 60)} and was still running when that was up.",
        [
            f"Ask for more time, for example {seconds_words(suggest * 60)}, and submit it again.",
            "If it can save its progress as it goes, it can carry on from there next time.",
        ],
        {"time_minutes": suggest},
        f"Submit again with {seconds_words(suggest * 60)}",
    )


# "slurmstepd-node2: error: couldn't chdir to `/home/alice/x': No such file or directory"
CHDIR = re.compile(r"couldn't chdir to [`']([^'`]+)'")


def missing_folder(facts: Facts) -> Diagnosis | None:
    found = CHDIR.search(facts.errors)
    if found is None:
        return None
    folder = found.group(1)
    return Diagnosis(
        "workdir",
        f"Its working folder {folder} did not exist, so it ran in /tmp instead.",
        "Files it looked for by their name alone were looked for in /tmp, and what it "
        "wrote went there too (on the node, not in your folders).",
        [
            f"Create the folder {folder} in Files, or choose a folder that exists as "
            "its working folder, and submit it again.",
        ],
    )


# bash: "x: command not found"; sh (dash): "x: not found"; when a folder on PATH is
# not hers to read, dash says "x: Permission denied" but still exits 127.
NOT_FOUND_COMMAND = re.compile(r"(?:^|: )([\w.+-]+): (?:command )?not found\s*$", re.MULTILINE)
DASH_DENIED = re.compile(r"slurm_script: \d+: ([\w.+-]+): Permission denied\s*$", re.MULTILINE)


def command_not_found(facts: Facts) -> Diagnosis | None:
    found = NOT_FOUND_COMMAND.search(facts.errors)
    if found is None and facts.job.exit_code == 127:
        found = DASH_DENIED.search(facts.errors)
    if found is None:
        return None
    command = found.group(1)
    if command == "module":
        return Diagnosis(
            "module-command",
            "The command “module” was not found.",
            "“module” only exists once the cluster's module system is set up in the "
            "shell, and a script started with #!/bin/sh, or without a login shell, "
            "does not set it up.",
            [
                "Start the script with #!/bin/bash -l (a login shell), so “module load” works.",
                "Or ask the help desk how modules are set up on this cluster.",
            ],
        )
    return Diagnosis(
        "command",
        f"The command “{command}” was not found.",
        f"No program called {command} is on the job's search path (PATH) on the node: "
        "it may be misspelt, or it comes from a module that was not loaded.",
        [
            f"Check the spelling of {command}.",
            f"If it comes from a module, add “module load …” before it (try “module "
            f"avail” or “module spider {command}” in a terminal to find which).",
            "If it is your own program, give its full path, for example ~/bin/" + command + ".",
        ],
    )


# "cat: /home/alice/input.csv: No such file or directory";
# Python: "FileNotFoundError: [Errno 2] No such file or directory: 'data.csv'"
NO_FILE = re.compile(
    r"(?:: ([^\s:'\"]+): No such file or directory)"
    r"|(?:No such file or directory: '([^']+)')"
    r"|(?:cannot (?:open|access|stat) '([^']+)': No such file or directory)"
)


def no_such_file(facts: Facts) -> Diagnosis | None:
    found = NO_FILE.search(facts.errors)
    if found is None:
        return None
    name = next(group for group in found.groups() if group)
    where = (
        f" Names that do not start with / are looked for in its working folder {facts.job.workdir}."
        if not name.startswith("/") and facts.job.workdir
        else ""
    )
    return Diagnosis(
        "no-file",
        f"It could not find {name}.",
        f"The file or folder {name} was not there when the job looked for it.{where}",
        [
            "Check the name and the folder in Files (upper and lower case count).",
            "If an earlier step makes that file, check that the step worked.",
        ],
    )


# "cat: /etc/shadow: Permission denied"; Python: "PermissionError: [Errno 13] ..."
DENIED = re.compile(r"(?:: ([^\s:'\"]+): Permission denied)|(?:Permission denied: '([^']+)')")


def permission_denied(facts: Facts) -> Diagnosis | None:
    found = DENIED.search(facts.errors)
    if found is None:
        return None
    name = next(group for group in found.groups() if group)
    return Diagnosis(
        "permission",
        f"It was not allowed to use {name}.",
        f"Your account may not read, write or run {name}: it belongs to someone else, "
        "or its permissions leave you out.",
        [
            f"Check who owns {name} and its permissions in Files.",
            "If it is your own script or program, make it executable (Files → Permissions).",
            "If it belongs to a colleague or a project, ask them to share it with you.",
        ],
    )


# "ModuleNotFoundError: No module named 'numpy'" (also "No module named numpy.core")
NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '?([\w.]+)'?")


def python_module(facts: Facts) -> Diagnosis | None:
    found = NO_MODULE.search(facts.errors)
    if found is None:
        return None
    module = found.group(1)
    package = module.split(".")[0]
    return Diagnosis(
        "python-module",
        f"Python could not find the module “{module}”.",
        f"The Python that ran the job has no package {package} installed.",
        [
            f"Install it for yourself: pip install --user {package} (in a terminal), "
            "or in a virtual environment your script activates first.",
            f"Or load the cluster's module that provides it before python, for example "
            f"“module load python” (try “module spider {package}”).",
        ],
    )


def never_started(facts: Facts) -> Diagnosis | None:
    job = facts.job
    reasons = {part.strip() for part in re.split(r"[,()\s]+", job.reason) if part}
    if job.state is JobState.PENDING and reasons & NEVER_FITS:
        pass
    elif job.state is JobState.FAILED and "BadConstraints" in reasons:
        pass
    elif not REFUSED.search(job.reason):
        return None
    return refused_request(job.reason)


def refused_request(reason: str) -> Diagnosis:
    """A request no node can hold (a waiting job's reason, or sbatch's refusal)."""
    return Diagnosis(
        "too-big",
        "It cannot start: it asks for more than any node of its partition has.",
        f"No node could ever run it as asked (Slurm says: {reason or 'not available'}): "
        "too many CPUs, too much memory, or too many nodes for this partition.",
        [
            "Ask for fewer CPUs or less memory per node (the Cluster page lists what "
            "each node has), or choose another partition.",
            "Cancel this one and submit it again with the smaller request.",
        ],
    )


RULES: tuple[Rule, ...] = (
    never_started,
    missing_folder,
    out_of_memory,
    time_limit,
    python_module,
    command_not_found,
    no_such_file,
    permission_denied,
)
# Endings worth explaining; a cancelled job was stopped by someone on purpose.
FAILED = frozenset({JobState.FAILED, JobState.TIMEOUT, JobState.OUT_OF_MEMORY, JobState.NODE_FAIL})


def diagnose(job: Job, errors: str = "", usage: JobUsage | None = None) -> Diagnosis | None:
    """The likely cause of this job's failure, or None when there is nothing to
    explain (it is running, it finished well, or no rule recognises its ending)."""
    facts = Facts(job, errors or "", usage)
    if job.state is JobState.PENDING:
        return never_started(facts)
    if job.state is JobState.COMPLETED:
        return missing_folder(facts)
    if job.state not in FAILED:
        return None
    for rule in RULES:
        found = rule(facts)
        if found is not None:
            return found
    return None


def explain_refusal(message: str) -> Diagnosis | None:
    """Slurm's refusal of a submission, explained, when it means "no node fits"."""
    return refused_request(message) if REFUSED.search(message) else None
