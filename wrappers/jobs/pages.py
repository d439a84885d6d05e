"""The jobs pages: the list, the submission form, a job's own page and its output."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from app.auth.next_url import safe_next
from app.verbs import ErrorKind, VerbError, VerbInvalid
from app.web.errors import RETRY_LABEL, status_of, words_of
from app.web.templating import message_page, render
from wrappers.jobs import prefill
from wrappers.jobs.diagnosis import FAILED, Diagnosis, diagnose, explain_refusal
from wrappers.jobs.project_access import project_access
from wrappers.request import verb_gate, viewer

# Only the end of an output file is read and sent (the file may be gigabytes long).
TAIL_BYTES = 64 * 1024
STOP_POLLING = 286
SAMPLE_SCRIPT = """#!/bin/bash
# The commands of your job. This one says where it ran and waits a little.
echo "Hello from $(hostname)"
sleep 20
echo "Done"
"""
FORM_DEFAULTS: dict[str, Any] = {
    "name": "",
    "partition": "",
    "time_minutes": 10,
    "nodes": 1,
    "ntasks": 1,
    "cpus_per_task": 1,
    "memory_mb": 0,
    "workdir": "",
    "script": SAMPLE_SCRIPT,
    "mail_on_end": "",
    "array": "",
}
NUMBERS = ("time_minutes", "nodes", "ntasks", "cpus_per_task", "memory_mb")


async def _my_jobs(request: Request) -> list[Any]:
    view = await verb_gate(request).call(viewer(request), "cluster.snapshot")
    return list(view.snapshot.jobs) if view.snapshot else []


async def job_list(request: Request) -> Response:
    identity = viewer(request)
    shared = {}
    for project in await project_access(request, identity):
        view = await verb_gate(request).call(identity, "jobs.project", project=project)
        shared[project] = [job for job in view.jobs if job.user != identity.unix_name]
    return render(
        request,
        "jobs/list.html",
        {"active": "jobs", "jobs": await _my_jobs(request), "project_jobs": shared},
    )


async def _form_page(
    request: Request,
    form: dict[str, Any],
    fields: dict[str, str],
    error: str = "",
    status: int = 200,
    notice: str = "",
    notes: list[str] | None = None,
) -> Response:
    view = await verb_gate(request).call(viewer(request), "cluster.snapshot")
    return render(
        request,
        "jobs/new.html",
        {
            "active": "jobs",
            "form": form,
            "fields": fields,
            "error": error,
            "notice": notice,  # where a prefilled form came from (wrappers/jobs/prefill.py)
            "notes": notes or [],
            "partitions": view.snapshot.partitions if view.snapshot else [],
            # One token per form shown: a double click or a retried request submits once.
            # "<issued>-<random>": the agent can tell fresh tokens from old ones.
            "token": form.get("token") or f"{int(time.time())}-{secrets.token_hex(12)}",
        },
        status_code=status,
    )


async def new_job_form(request: Request) -> Response:
    """Blank, or started from a template (``?template=<id>``) or an earlier job
    (``?resubmit=<job id>``), shown for her to check before submitting."""
    start = prefill.Start(dict(FORM_DEFAULTS))
    if "template" in request.query_params:
        start = await prefill.from_template(
            verb_gate(request), viewer(request), request.query_params["template"], FORM_DEFAULTS
        )
    elif "resubmit" in request.query_params:
        start = await prefill.from_job(
            verb_gate(request), viewer(request), request.query_params["resubmit"], FORM_DEFAULTS
        )
        _apply_suggestion(start, request.query_params)
    return await _form_page(
        request, start.form, start.fields, start.error, notice=start.notice, notes=start.notes
    )


# What a failed job's explanation may change in its resubmission (diagnosis.change).
SUGGESTED = {"memory_mb": "memory", "time_minutes": "time limit"}


def _apply_suggestion(start: prefill.Start, params: Any) -> None:
    """``&memory_mb=8192`` (from a failed job's "Submit again with ..." button) set
    over the earlier job's settings, and said in the notice, so she sees what changed."""
    changed = []
    for key, words in SUGGESTED.items():
        value = params.get(key, "")
        if value.isdigit() and 0 < int(value) <= 4 * 1024 * 1024 and not start.error:
            start.form[key] = int(value)
            changed.append(words)
    if changed:
        start.notice += f" The suggested {' and '.join(changed)} is filled in."


async def submit(request: Request) -> Response:
    posted = await request.form()
    form = {key: str(posted.get(key, default)) for key, default in FORM_DEFAULTS.items()}
    form["token"] = str(posted.get("token", ""))
    fields: dict[str, str] = {}
    arguments: dict[str, Any] = dict(form)
    for key in NUMBERS:
        try:
            arguments[key] = int(form[key] or 0)
        except ValueError:
            fields[key] = "Please enter a whole number."
    if fields:
        return await _form_page(request, form, fields, "Please check the highlighted fields.", 400)
    try:
        submitted = await verb_gate(request).call(viewer(request), "jobs.submit", **arguments)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise  # not about what she typed: the page that offers to try again
        # Refused as asked (a field, or Slurm's own reason): said above her form.
        fields = error.fields if isinstance(error, VerbInvalid) else {}
        message = error.message
        explained = explain_refusal(message)
        if explained is not None:  # "Requested node configuration is not available"
            message = f"{explained.what} {explained.why} {explained.tries[0]}"
        return await _form_page(request, form, fields, message, status_of(error.kind))
    return RedirectResponse(f"/jobs/{submitted.job_id}", status_code=303)


# A job that is not there, not the viewer's to see, or not a job number look alike.
NO_SUCH = frozenset({ErrorKind.NOT_FOUND, ErrorKind.DENIED, ErrorKind.INVALID})


async def _job(request: Request) -> Any:
    """The job if the viewer may see it (policy decides: its owner, and whoever the
    site lets see a project's jobs), else None: not found and not allowed look alike.
    An outage (Slurm not answering) is no answer about the job: it goes on to its page."""
    try:
        view = await verb_gate(request).call(
            viewer(request), "jobs.show", job_id=request.path_params["job_id"]
        )
    except VerbError as error:
        if error.kind in NO_SUCH:
            return None
        raise
    return view.job


def _not_found(request: Request) -> Response:
    return message_page(
        request,
        "No such job of yours",
        "This job does not exist, or it is not yours to see.",
        status_code=404,
        action_url="/jobs",
        action_label="Back to your jobs",
        tone="error",
    )


async def job_page(request: Request) -> Response:
    job = await _job(request)
    if job is None:
        return _not_found(request)
    output, errors, unreadable = await _tails(request, job)
    identity = viewer(request)
    # Buttons only for whoever may use them (the owner; a project admin); the call is
    # checked again when pressed.
    may_act = job.user == identity.unix_name or await verb_gate(request).allowed(
        identity, "jobs.cancel", job_id=job.job_id
    )
    return render(
        request,
        "jobs/detail.html",
        {
            "active": "jobs",
            "job": job,
            "output": output,
            "errors": errors,
            "unreadable": unreadable,
            "may_act": may_act,
            "diagnosis": await _diagnosis(request, job, errors),
        },
    )


async def _diagnosis(request: Request, job: Any, errors: str) -> Diagnosis | None:
    """Why it likely failed (wrappers/jobs/diagnosis.py), with what accounting says it
    asked for and used when its owner's history is the viewer's to read; accounting
    not answering only leaves those numbers out."""
    usage = None
    if job.state in FAILED:
        gate, identity = verb_gate(request), viewer(request)
        try:
            if await gate.allowed(identity, "jobs.history", user=job.user):
                today = datetime.now(UTC).date()
                since = job.submitted_at.date() if job.submitted_at else today
                found = await gate.call(
                    identity,
                    "jobs.history",
                    user=job.user,
                    since=since,
                    until=today,
                    name=job.name[:64],
                )
                usage = next((u for u in found.jobs if u.job.job_id == job.job_id), None)
        except VerbError:
            usage = None
    return diagnose(job, errors, usage)


async def job_output(request: Request) -> Response:
    job = await _job(request)
    if job is None:
        return HTMLResponse("", status_code=404)
    output, errors, unreadable = await _tails(request, job)
    templates = request.app.state.templates
    fragment = templates.get_template("jobs/_output.html").render(
        job=job, output=output, errors=errors, unreadable=unreadable
    )
    # 286 tells htmx to stop polling: once the job is over, its output is final.
    return HTMLResponse(
        fragment,
        status_code=200 if job.state.is_active else STOP_POLLING,
    )


class Unreadable:
    """Why the output could not be read now (her agent or the storage is not
    answering): said where the output goes, with a way to try again."""

    def __init__(self, error: VerbError, retry: str) -> None:
        words = words_of(ErrorKind.UNAVAILABLE)
        self.heading, self.message, self.sentence = words.heading, error.message, words.sentence
        self.retry, self.retry_label = retry, RETRY_LABEL


async def _tails(request: Request, job: Any) -> tuple[str | None, str, Unreadable | None]:
    """The last part of the job's output and error files, read as their owner, and
    what stopped them being read, if the cluster side did not answer."""
    try:
        return await _tail(request, job.stdout), await _tail(request, job.stderr) or "", None
    except VerbError as error:  # only an outage comes this far (see _tail)
        return None, "", Unreadable(error, f"/jobs/{job.job_id}")


async def _tail(request: Request, path: str) -> str | None:
    """None when there is no output (yet), or it is not the viewer's to read; an
    outage is raised, so that it is never shown as "no output"."""
    if not path:
        return None
    try:
        opened = await verb_gate(request).call(viewer(request), "files.read", path=path)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return None
    text, cut = opened.tail(TAIL_BYTES)
    return f"…\n{text}" if cut else str(text)


ACTIONS = {"cancel": "jobs.cancel", "hold": "jobs.hold", "release": "jobs.release"}


async def act(request: Request) -> Response:
    """Cancel, hold or release, named by the last part of the address."""
    job_id = request.path_params["job_id"]
    verb = ACTIONS.get(request.path_params["action"])
    if verb is None:
        return _not_found(request)
    # Pressed on the jobs list (an array's task), the person stays on the list.
    asked = str((await request.form()).get("back", ""))
    back = safe_next(asked) if asked else f"/jobs/{job_id}"
    # A refusal or an outage is answered by the portal's page for its kind.
    await verb_gate(request).call(viewer(request), verb, job_id=job_id)
    return RedirectResponse(back, status_code=303)


routes = [
    Route("/jobs", job_list, methods=["GET"]),
    Route("/jobs/new", new_job_form, methods=["GET"]),
    Route("/jobs/new", submit, methods=["POST"]),
    Route("/jobs/{job_id:str}", job_page, methods=["GET"]),
    Route("/jobs/{job_id:str}/output", job_output, methods=["GET"]),
    Route("/jobs/{job_id:str}/{action:str}", act, methods=["POST"]),
]
