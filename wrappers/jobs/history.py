"""The history page: past jobs with what each asked for and used, and a hint when a
request was far too large.

The filter is a GET form, so a filtered view can be bookmarked or shared with the
help desk. Typing mistakes in it are explained above the form; they never reach
the verb as a traceback.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.verbs import ErrorKind, VerbError, VerbInvalid
from app.web.errors import status_of
from app.web.templating import render
from app.web.words import job_words
from managers.scheduler import JobState
from wrappers.jobs.efficiency import efficiency
from wrappers.jobs.verbs.history import DEFAULT_DAYS, MAX_DAYS
from wrappers.request import verb_gate, viewer

# What the state filter offers, in the words the job pages use.
STATE_CHOICES: tuple[tuple[str, str], ...] = (
    ("", "any"),
    *(
        (state.value, job_words(state))
        for state in (
            JobState.COMPLETED,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.TIMEOUT,
            JobState.OUT_OF_MEMORY,
            JobState.NODE_FAIL,
            JobState.RUNNING,
            JobState.PENDING,
        )
    ),
)


def _read_date(text: str, label: str, problems: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems[label] = (
            f"{text!r} is not a date. Please use year-month-day, for example "
            f"{datetime.now(UTC).date().isoformat()}."
        )
        return None


def read_filter(params: Any) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """The form as typed (to show it back), the verb's arguments, and a plain
    message per field that could not be understood."""
    today = datetime.now(UTC).date()
    form = {
        "since": str(params.get("since") or today - timedelta(days=DEFAULT_DAYS - 1)),
        "until": str(params.get("until") or today),
        "state": str(params.get("state") or ""),
        "name": str(params.get("name") or ""),
        "user": str(params.get("user") or ""),
    }
    problems: dict[str, str] = {}
    since = _read_date(form["since"], "since", problems)
    until = _read_date(form["until"], "until", problems)
    if since and until and until < since:
        problems["until"] = "The 'to' date is before the 'from' date."
    elif since and until and (until - since).days >= MAX_DAYS:
        problems["until"] = f"Please choose at most {MAX_DAYS} days at a time."
    if form["state"] not in {value for value, _ in STATE_CHOICES}:
        problems["state"] = "Please choose one of the listed states."
    if len(form["name"]) > 64:
        problems["name"] = "Please type at most 64 characters."
    arguments: dict[str, Any] = {
        "since": since,
        "until": until,
        "states": [form["state"]] if form["state"] else [],
        "name": form["name"],
        "user": form["user"],
    }
    return form, arguments, problems


async def history_page(request: Request) -> Response:
    form, arguments, fields = read_filter(request.query_params)
    error, status, result = "", 200, None
    if fields:
        error, status = "Please check the highlighted fields.", 400
    else:
        gate, identity = verb_gate(request), viewer(request)
        try:
            result = await gate.call(identity, "jobs.history", **arguments)
        except VerbInvalid as error_:
            fields = {key: value.capitalize() + "." for key, value in error_.fields.items()}
            error, status = "Please check the highlighted fields.", 400
        except VerbError as error_:
            if error_.kind is ErrorKind.UNAVAILABLE:
                raise  # accounting is not answering: the page that offers to try again
            error, status = error_.message, status_of(error_.kind)
    rows = [(usage, efficiency(usage)) for usage in result.jobs] if result else []
    return render(
        request,
        "jobs/history.html",
        {
            "active": "jobs",
            "form": form,
            "fields": fields,
            "error": error,
            "states": STATE_CHOICES,
            "rows": rows,
            "whose": result.user if result else form["user"],
            "truncated": bool(result and result.truncated),
            "searched": result is not None,
        },
        status_code=status,
    )


async def job_usage(request: Request) -> Response:
    """A finished job's use of its request, for its own page (loaded after the page,
    so a slow accounting database never delays it). Empty when the job is not the
    viewer's to see, its owner's history is not theirs to read, or accounting does
    not have it yet."""
    gate, identity = verb_gate(request), viewer(request)
    job_id = request.path_params["job_id"]
    try:
        job = (await gate.call(identity, "jobs.show", job_id=job_id)).job
        # A project member may see a job but not its owner's history: ask quietly
        # first, so every such page view is not audited as a refusal.
        if not await gate.allowed(identity, "jobs.history", user=job.user):
            return HTMLResponse("")
        today = datetime.now(UTC).date()
        submitted = job.submitted_at.date() if job.submitted_at else today
        since = max(submitted, today - timedelta(days=MAX_DAYS - 1))
        found = await gate.call(
            identity, "jobs.history", user=job.user, since=since, until=today, name=job.name[:64]
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise  # an outage is not "nothing to show"
        return HTMLResponse("")
    for usage in found.jobs:
        if usage.job.job_id == job_id:
            templates = request.app.state.templates
            fragment = templates.get_template("jobs/_usage.html")
            return HTMLResponse(fragment.render(job=usage.job, use=efficiency(usage)))
    return HTMLResponse("")


routes = [
    Route("/jobs/history", history_page, methods=["GET"]),
    Route("/jobs/history/{job_id:str}", job_usage, methods=["GET"]),
]
