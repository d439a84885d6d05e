"""Where a new job's form starts from: blank, a template, an earlier job, or a script
file in the person's folders. Each is read through verbs, as the person.

The result is always the form shown for confirmation, never a submission: whatever
was filled in, she sees it and presses "Submit job" herself.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from app.security.sessions import Identity
from app.verbs import ErrorKind, VerbError, VerbGate
from wrappers.jobs.directives import Converted, convert

MAX_SCRIPT = 1024 * 1024
NUMBERS = ("time_minutes", "nodes", "ntasks", "cpus_per_task", "memory_mb")


@dataclass
class Start:
    """A form to show: its values, a sentence saying where they came from, and, when
    something went wrong, the problem (on the page or next to a field)."""

    form: dict[str, Any]
    notice: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def _merged(defaults: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    form = dict(defaults)
    form.update({key: value for key, value in values.items() if key in defaults})
    return form


async def from_template(
    gate: VerbGate, identity: Identity, template_id: str, defaults: dict[str, Any]
) -> Start:
    """The template's fields and script; her own e-mail box stays as it was."""
    if not template_id.isdigit():
        return Start(dict(defaults), error="That template does not exist.")
    try:
        view = await gate.call(identity, "templates.show", template_id=int(template_id))
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return Start(
            dict(defaults), error="That template does not exist, or it is not yours to use."
        )
    form = _merged(defaults, {**view.fields, "script": view.script})
    return Start(
        form,
        notice=f"Filled in from the template “{view.title}”. Check the settings, then "
        "press Submit job.",
    )


async def from_job(
    gate: VerbGate, identity: Identity, job_id: str, defaults: dict[str, Any]
) -> Start:
    """An earlier job's settings and, while Slurm still keeps it, its script.

    Slurm forgets a job's script a few minutes after the job ends (accounting does
    not store scripts unless the site asks it to), so for older jobs only what the
    job record knows is filled in, and she is told so. An outage (Slurm or her agent
    not answering) is raised: it says nothing about the job or its script.
    """
    try:
        job = (await gate.call(identity, "jobs.show", job_id=job_id)).job
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return Start(dict(defaults), error="That job does not exist, or it is not yours.")
    values: dict[str, Any] = {"name": job.name, "partition": job.partition}
    if job.time_limit_minutes:
        values["time_minutes"] = job.time_limit_minutes
    if job.node_count:
        values["nodes"] = job.node_count
    if job.workdir:
        values["workdir"] = job.workdir
    try:
        kept = await gate.call(identity, "jobs.script", job_id=job_id)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        kept = None
    if kept is None or not kept.available:
        values["script"] = (
            "#!/bin/bash\n# The cluster no longer keeps the commands of job "
            f"{job_id}: write them here.\n"
        )
        return Start(
            _merged(defaults, values),
            notice=f"The cluster no longer keeps the script of job {job_id} (it forgets "
            "scripts a few minutes after a job ends), so only its name, partition, time "
            "limit, nodes and working folder were filled in. Write the commands below, "
            "check the rest, then press Submit job.",
        )
    converted = convert(kept.script)
    values.update(converted.fields)
    values["script"] = converted.script
    return Start(
        _merged(defaults, values),
        notice=f"Filled in with the settings and script of job {job_id}. Check them, then "
        "press Submit job.",
        notes=converted.notes,
    )


class FileProblem(Exception):
    """Why a script file cannot be used, in words for the person."""


def script_path(identity: Identity, typed: str) -> str:
    """An absolute path; a relative one (or ``~/...``) is taken from her home folder."""
    typed = typed.strip()
    home = f"/home/{identity.unix_name}"
    if typed.startswith("~/") or typed == "~":
        typed = home + typed[1:]
    if not typed.startswith("/"):
        typed = f"{home}/{typed}"
    return posixpath.normpath(typed)


async def from_file(
    gate: VerbGate, identity: Identity, typed: str, defaults: dict[str, Any]
) -> Start:
    """Her script file, read as her (the kernel decides what she may read), with its
    ``#SBATCH`` lines turned into fields; the working folder is the file's folder
    unless the script names one. Raises FileProblem when the file cannot be used, and
    the VerbError when the cluster side is not answering (nothing is wrong with it)."""
    if not typed.strip():
        raise FileProblem("Type the path of a script file, for example ~/job.sh.")
    path = script_path(identity, typed)
    try:
        entry = await gate.call(identity, "files.stat", path=path)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        raise FileProblem(_file_words(path, error)) from error
    if entry.kind != "file":
        raise FileProblem(f"{path} is a folder. Choose a script file in it.")
    if entry.size > MAX_SCRIPT:
        raise FileProblem(f"{path} is larger than 1 MiB; that is too big for a job script.")
    try:
        opened = await gate.call(identity, "files.read", path=path)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        raise FileProblem(_file_words(path, error)) from error
    text, cut = opened.tail(MAX_SCRIPT + 1)
    if cut or len(text) > MAX_SCRIPT:
        raise FileProblem(f"{path} is larger than 1 MiB; that is too big for a job script.")
    if "\x00" in text or "\ufffd" in text:
        raise FileProblem(f"{path} does not look like a text file. Choose a script.")
    converted: Converted = convert(text)
    if not any(
        line.strip() and not line.strip().startswith("#") for line in converted.script.splitlines()
    ):
        raise FileProblem(f"{path} has no commands in it, only comments or blank lines.")
    values: dict[str, Any] = {"workdir": posixpath.dirname(path), **converted.fields}
    values["script"] = converted.script
    if "name" not in converted.fields:
        values["name"] = _job_name(posixpath.basename(path))
    if converted.read:
        notice = (
            f"Filled in from {path}: its #SBATCH lines became the settings below "
            "(the script itself is unchanged on disk). Check them, then press Submit job."
        )
    else:
        notice = f"Filled in from {path}. Check the settings, then press Submit job."
    return Start(_merged(defaults, values), notice=notice, notes=converted.notes)


def _job_name(filename: str) -> str:
    """A job name from a file name: its stem, in the characters a job name may use."""
    stem = filename.rsplit(".", 1)[0] if "." in filename[1:] else filename
    cleaned = "".join(char if char.isalnum() or char in "-_." else "-" for char in stem)
    return cleaned[:64]


def _file_words(path: str, error: VerbError) -> str:
    if error.kind is ErrorKind.NOT_FOUND:
        return f"There is no file at {path}. Check the spelling."
    if error.kind is ErrorKind.DENIED and error.detail in ("EACCES", "EPERM"):
        return f"You are not allowed to read {path}."
    return error.message
