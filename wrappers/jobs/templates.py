"""The job composer's pages: the list of templates, the template form (new, edit,
copy, from the submission form, from a job) and deleting one.

All work goes through the template verbs (templates.list/show/save/delete); policy
decides who may read, change or delete each template, and these pages only show
the buttons it would allow. Starting a job from a template is /jobs/new?template=<id>
(pages.py), which shows the filled-in submission form for her to check.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.auth.profile import viewer_profile
from app.verbs import ErrorKind, VerbError, VerbInvalid
from app.web.errors import status_of
from app.web.templating import message_page, render
from wrappers.jobs import prefill
from wrappers.jobs.pages import FORM_DEFAULTS, NUMBERS
from wrappers.request import verb_gate, viewer

# The template form's own fields; the job's come from the submission form's defaults.
JOB_KEYS = tuple(key for key in FORM_DEFAULTS if key != "mail_on_end")
TEMPLATE_DEFAULTS: dict[str, Any] = {
    "template_id": 0,
    "title": "",
    "description": "",
    "share": "personal",
    **{key: FORM_DEFAULTS[key] for key in JOB_KEYS},
}
SCOPE_WORDS = {
    "personal": "Only you",
    "project": "Everyone in the project {project}",
    "site": "Everyone on the cluster (a site template)",
}


def share_of(scope: str, project: str) -> str:
    """The form's one "who can use it" choice: personal, project:<name> or site."""
    return f"project:{project}" if scope == "project" else scope


def scope_words(scope: str, project: str) -> str:
    return SCOPE_WORDS.get(scope, SCOPE_WORDS["personal"]).format(project=project)


async def template_list(request: Request) -> Response:
    identity = viewer(request)
    listed = await verb_gate(request).call(identity, "templates.list")
    groups: dict[str, list[Any]] = {"personal": [], "site": []}
    projects: dict[str, list[Any]] = {}
    for view in listed.templates:
        if view.scope == "project":
            projects.setdefault(view.project, []).append(view)
        else:
            groups[view.scope].append(view)
    # Named by number, not by text in the address, so a link cannot put words here.
    saved = request.query_params.get("saved", "")
    titles = {str(view.id): view.title for view in listed.templates}
    notice = ""
    if saved in titles:
        notice = f"Saved the template “{titles[saved]}”."
    elif request.query_params.get("deleted"):
        notice = "The template was deleted."
    return render(
        request,
        "jobs/templates_list.html",
        {
            "active": "jobs",
            "mine": groups["personal"],
            "projects": projects,
            "site": groups["site"],
            "notice": notice,
        },
    )


async def _form(
    request: Request,
    form: dict[str, Any],
    fields: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
    notice: str = "",
    notes: list[str] | None = None,
    place: str = "",
) -> Response:
    """The template form. ``place`` is set when editing: where the template lives
    cannot be changed there (copy it instead)."""
    profile = await viewer_profile(request)
    view = await verb_gate(request).call(viewer(request), "cluster.snapshot")
    return render(
        request,
        "jobs/template_form.html",
        {
            "active": "jobs",
            "form": form,
            "fields": fields or {},
            "error": error,
            "notice": notice,
            "notes": notes or [],
            "place": place,
            "projects": profile.projects,
            "may_share_site": profile.admin,
            "partitions": view.snapshot.partitions if view.snapshot else [],
        },
        status_code=status,
    )


async def new_template(request: Request) -> Response:
    """Blank, a copy of a template (``?copy=<id>``), or an earlier job's settings and
    script (``?job=<job id>``, the "Save as template" button on a job's page)."""
    identity, gate, query = viewer(request), verb_gate(request), request.query_params
    form = dict(TEMPLATE_DEFAULTS)
    if "copy" in query:
        try:
            original = await gate.call(identity, "templates.show", template_id=query["copy"])
        except VerbError as error:
            return _not_found(request, error)
        form.update({key: original.fields.get(key, FORM_DEFAULTS[key]) for key in JOB_KEYS})
        form.update(
            title=f"Copy of {original.title}"[:100],
            description=original.description,
            script=original.script,
        )
        return await _form(
            request, form, notice="A copy: change what you like, then press Save template."
        )
    if "job" in query:
        start = await prefill.from_job(gate, identity, query["job"], FORM_DEFAULTS)
        if start.error:
            return _problem(request, start.error, 404)
        form.update({key: start.form[key] for key in JOB_KEYS})
        form["title"] = str(start.form.get("name") or "")[:100]
        return await _form(request, form, notice=start.notice, notes=start.notes)
    return await _form(request, form)


async def draft(request: Request) -> Response:
    """The submission form's "Save as template…" button: its fields, into the template form."""
    posted = await request.form()
    form = dict(TEMPLATE_DEFAULTS)
    form.update({key: str(posted.get(key, FORM_DEFAULTS[key])) for key in JOB_KEYS})
    form["title"] = form["name"][:100]
    return await _form(
        request,
        form,
        notice="Give the template a name and choose who may use it, then press Save template.",
    )


async def edit(request: Request) -> Response:
    template_id = request.path_params["template_id"]
    try:
        view = await verb_gate(request).call(
            viewer(request), "templates.show", template_id=template_id
        )
    except VerbError as error:
        return _not_found(request, error)
    if not view.can_write:
        return _problem(
            request, "You may use this template but not change it. Copy it to make your own.", 403
        )
    form = dict(TEMPLATE_DEFAULTS)
    form.update({key: view.fields.get(key, FORM_DEFAULTS[key]) for key in JOB_KEYS})
    form.update(
        template_id=view.id,
        title=view.title,
        description=view.description,
        script=view.script,
        share=share_of(view.scope, view.project),
    )
    return await _form(request, form, place=scope_words(view.scope, view.project))


async def save(request: Request) -> Response:
    posted = await request.form()
    form = {key: str(posted.get(key, default)) for key, default in TEMPLATE_DEFAULTS.items()}
    fields: dict[str, str] = {}
    arguments: dict[str, Any] = {key: form[key] for key in JOB_KEYS}
    arguments.update(title=form["title"], description=form["description"])
    for key in (*NUMBERS, "template_id"):
        try:
            arguments[key] = int(form[key] or 0)
        except ValueError:
            fields[key] = "Please enter a whole number."
    scope, _, project = form["share"].partition(":")
    arguments.update(scope=scope, project=project)
    place = ""
    if arguments.get("template_id"):
        # Where an existing template lives is not changed here (see templates.save).
        place = str(posted.get("place", ""))[:200]
    if fields:
        return await _form(request, form, fields, "Please check the highlighted fields.", 400)
    try:
        view = await verb_gate(request).call(viewer(request), "templates.save", **arguments)
    except VerbInvalid as error:
        fields = {
            ("share" if key in ("scope", "project") else key): message
            for key, message in error.fields.items()
        }
        message = error.message if error.fields else f"Please check the form: {error.message}"
        return await _form(request, form, fields, message, 400, place=place)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise  # not about what she typed: the page that offers to try again
        status = status_of(error.kind)
        return await _form(request, form, {}, error.message, status, place=place)
    return RedirectResponse(f"/jobs/templates?saved={view.id}", 303)


async def delete(request: Request) -> Response:
    template_id = request.path_params["template_id"]
    # A refusal or an outage is answered by the portal's page for its kind.
    await verb_gate(request).call(viewer(request), "templates.delete", template_id=template_id)
    return RedirectResponse("/jobs/templates?deleted=1", 303)


# A template that is not there, not hers to use, or not a template number look alike.
NO_SUCH = frozenset({ErrorKind.NOT_FOUND, ErrorKind.DENIED, ErrorKind.INVALID})


def _not_found(request: Request, error: VerbError) -> Response:
    """Not there and not hers look alike; anything else (an outage) goes on."""
    if error.kind not in NO_SUCH:
        raise error
    return _problem(request, "This template does not exist, or it is not yours to use.", 404)


def _problem(request: Request, text: str, status: int) -> Response:
    return message_page(
        request,
        "That did not work",
        text,
        status_code=status,
        action_url="/jobs/templates",
        action_label="Back to the templates",
        tone="error",
    )


routes = [
    Route("/jobs/templates", template_list, methods=["GET"]),
    Route("/jobs/templates/new", new_template, methods=["GET"]),
    Route("/jobs/templates/draft", draft, methods=["POST"]),
    Route("/jobs/templates/save", save, methods=["POST"]),
    Route("/jobs/templates/{template_id:int}/edit", edit, methods=["GET"]),
    Route("/jobs/templates/{template_id:int}/delete", delete, methods=["POST"]),
]
