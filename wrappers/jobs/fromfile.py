"""Submit a script file from her own folders: she names the file (or picks one of the
scripts in her home folder), the portal reads it as her and shows the filled-in
submission form, which she checks and submits like any other.

The file is read with the files.stat and files.read verbs, so her agent opens it
as her and the kernel decides whether she may; nothing here reads files itself.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.verbs import ErrorKind, VerbError
from app.web.templating import render
from wrappers.jobs import prefill
from wrappers.jobs.pages import FORM_DEFAULTS, _form_page
from wrappers.request import verb_gate, viewer

SCRIPT_ENDINGS = (".sh", ".sbatch", ".slurm", ".job", ".bash")
MAX_LISTED = 50


async def _scripts_at_home(request: Request) -> list[str]:
    """Her home folder's script files by name, to pick from (there is no file browser
    yet); an unreadable home folder just lists nothing, an outage is raised."""
    home = f"/home/{viewer(request).unix_name}"
    try:
        listing = await verb_gate(request).call(viewer(request), "files.list", path=home)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return []
    names = [
        entry.path
        for entry in listing.entries()
        if entry.kind == "file" and entry.name.lower().endswith(SCRIPT_ENDINGS)
    ]
    return sorted(names)[:MAX_LISTED]


async def from_file(request: Request) -> Response:
    """Without ``?path=`` the page to choose a file; with it, the submission form
    filled in from that file, or the choice again with the problem next to the field."""
    typed = request.query_params.get("path")
    if typed is not None:
        try:
            start = await prefill.from_file(
                verb_gate(request), viewer(request), typed[:4096], FORM_DEFAULTS
            )
        except prefill.FileProblem as problem:
            return await _choose(request, typed[:4096], str(problem), 400)
        return await _form_page(
            request, start.form, start.fields, notice=start.notice, notes=start.notes
        )
    return await _choose(request, "", "")


async def _choose(request: Request, typed: str, problem: str, status: int = 200) -> Response:
    return render(
        request,
        "jobs/from_file.html",
        {
            "active": "jobs",
            "typed": typed,
            "problem": problem,
            "scripts": await _scripts_at_home(request),
            "home": f"/home/{viewer(request).unix_name}",
        },
        status_code=status,
    )


routes = [Route("/jobs/from-file", from_file, methods=["GET"])]
