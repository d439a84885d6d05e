"""Verb errors mapped once: every code an agent, a manager or the gate gives has a
kind (app/verbs/errors.py), every kind a status and plain words, and the one
exception handler (app/web/errors.py) answers pages, htmx, JSON and tus clients.

The handler runs in a tiny app of its own here; tests/app/test_outage_pages.py
stops her agent's launch and Slurm for real behind a whole portal."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.verbs import ErrorKind, VerbDenied, VerbError, VerbFailed, VerbInvalid, VerbUnavailable
from app.verbs.errors import CODES, kind_of
from app.web.errors import STATUS, TUS_STATUS, WORDS, status_of, verb_error
from app.web.templating import build_templates

REPO = Path(__file__).resolve().parents[2]


def test_every_kind_has_a_status_and_words() -> None:
    for kind in ErrorKind:
        assert 400 <= status_of(kind) < 600, kind
        assert 400 <= TUS_STATUS[kind] < 600, kind
        assert WORDS[kind].heading, kind
    assert set(STATUS) == set(WORDS) == set(ErrorKind)
    assert len(set(STATUS.values())) == len(ErrorKind), "each kind a status of its own"
    assert status_of(ErrorKind.UNAVAILABLE) == 503 and status_of(ErrorKind.NOT_FOUND) == 404
    # A tus client retries a 5xx; a full disk must stop it (as it always did, 413).
    assert TUS_STATUS[ErrorKind.NO_SPACE] == 413
    words = WORDS[ErrorKind.UNAVAILABLE].sentence
    assert "helper process" in words and "scheduler" in words
    assert "nothing was changed" in words


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ENOENT", ErrorKind.NOT_FOUND),
        ("EEXIST", ErrorKind.CONFLICT),
        ("ENOTEMPTY", ErrorKind.CONFLICT),
        ("ENOSPC", ErrorKind.NO_SPACE),
        ("EDQUOT", ErrorKind.NO_SPACE),
        ("EFBIG", ErrorKind.TOO_LARGE),
        ("EACCES", ErrorKind.DENIED),
        ("EPERM", ErrorKind.DENIED),
        ("agent-unreachable", ErrorKind.UNAVAILABLE),
        ("agent-lost", ErrorKind.UNAVAILABLE),
        ("launch-failed", ErrorKind.UNAVAILABLE),
        ("launch-timeout", ErrorKind.UNAVAILABLE),
        ("remote-unreachable", ErrorKind.UNAVAILABLE),
        ("busy", ErrorKind.UNAVAILABLE),
        ("scheduler", ErrorKind.UNAVAILABLE),
        ("unavailable", ErrorKind.UNAVAILABLE),
        # Refused in the worker's own words (Slurm said no): as before kinds, 409.
        ("failed", ErrorKind.CONFLICT),
        ("a-code-nobody-uses-yet", ErrorKind.CONFLICT),
    ],
)
def test_codes_become_kinds_in_one_place(code: str, kind: ErrorKind) -> None:
    assert kind_of(code) is kind
    failed = VerbFailed("words", code)
    assert failed.kind is kind and failed.detail == code  # the code stays for pages


def test_the_classes_say_who_decided() -> None:
    assert VerbInvalid("bad", fields={"x": "no"}).kind is ErrorKind.INVALID
    assert VerbDenied("no").kind is ErrorKind.DENIED
    assert VerbDenied("again", "reauth").detail == "reauth"
    assert VerbUnavailable("down", "agent-lost").kind is ErrorKind.UNAVAILABLE
    assert not hasattr(VerbError("x", ErrorKind.CONFLICT), "status"), "no HTTP in app/verbs"


RAISERS = {"OperationError", "AgentUnavailable", "VerbFailed", "VerbUnavailable"}


def _codes_in_source() -> Iterator[tuple[str, str]]:
    """(where, code) for each literal code an agent, a manager, a verb or the gate
    raises (``SomeError(message, "CODE")`` or ``kind="CODE"``), and each ``"kind"`` of
    a failed reply an agent or its gateway writes."""
    for folder in ("app", "managers", "wrappers"):
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if name not in RAISERS:
                        continue
                    given = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "kind")]
                    for value in given:
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            yield where, value.value
                elif isinstance(node, ast.Dict):
                    pairs = {
                        key.value: value
                        for key, value in zip(node.keys, node.values, strict=True)
                        if isinstance(key, ast.Constant)
                    }
                    kind, ok = pairs.get("kind"), pairs.get("ok")
                    if (
                        isinstance(ok, ast.Constant)
                        and ok.value is False
                        and isinstance(kind, ast.Constant)
                        and isinstance(kind.value, str)
                    ):
                        yield where, kind.value


def test_every_code_in_the_source_has_its_kind() -> None:
    found = list(_codes_in_source())
    assert len(found) > 50, "the scan found the raisers"
    unlisted = [(where, code) for where, code in found if code not in CODES]
    assert not unlisted, f"add these to app/verbs/errors.py CODES: {unlisted}"


# --- the one handler, in a tiny app -----------------------------------------------


ERRORS: dict[str, VerbError] = {
    "denied": VerbDenied("You are not allowed to read this (/home/bob)."),
    "reauth": VerbDenied("This needs a recent sign-in.", "reauth"),
    "not_found": VerbFailed("There is no such job.", "ENOENT"),
    "invalid": VerbInvalid("name: too long", "invalid", {"name": "too long"}),
    "conflict": VerbFailed("A file called “a.txt” already exists in /home/alice.", "EEXIST"),
    "too_large": VerbFailed("This text is too large to save here.", "EFBIG"),
    "no_space": VerbFailed("Your disk quota is full; nothing was written to /x", "EDQUOT"),
    "unavailable": VerbUnavailable(
        "Your personal helper process could not be started: refused", "launch-failed"
    ),
    "lost": VerbUnavailable("Your personal helper process stopped while working.", "agent-lost"),
}


async def fail(request: Request) -> Response:
    raise ERRORS[request.path_params["which"]]


@pytest.fixture
def client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/fail/{which}", fail, methods=["GET", "POST"])],
        exception_handlers={VerbError: verb_error},
    )
    app.state.templates = build_templates()
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://portal.test")


@pytest.mark.parametrize("which", sorted(ERRORS))
async def test_each_kind_is_its_status_and_plain_page(
    client: httpx.AsyncClient, which: str
) -> None:
    error = ERRORS[which]
    async with client:
        answer = await client.get(f"/fail/{which}")
    assert answer.status_code == STATUS[error.kind]
    assert answer.headers["content-type"].startswith("text/html")
    assert "<html" in answer.text and "Traceback" not in answer.text
    if which != "reauth":
        assert WORDS[error.kind].heading in answer.text
    assert error.message in answer.text


async def test_unavailable_says_the_cluster_side_and_offers_to_retry(
    client: httpx.AsyncClient,
) -> None:
    async with client:
        page = await client.get("/fail/unavailable?path=%2Fhome%2Falice")
        sent = await client.post(
            "/fail/unavailable", headers={"referer": "http://portal.test/jobs/42?tab=x"}
        )
        foreign = await client.post(
            "/fail/unavailable", headers={"referer": "http://elsewhere.test/jobs/42"}
        )
        lost = await client.post("/fail/lost", headers={"referer": "http://portal.test/jobs/42"})
    assert page.status_code == 503
    assert "The cluster is not answering right now" in page.text
    assert "helper process" in page.text and "nothing was changed" in page.text
    assert "could not be started: refused" in page.text, "her agent's own words too"
    assert "not found" not in page.text.lower() and "no such" not in page.text.lower()
    # Try again: the same page; after a form was sent, the page it was sent from.
    assert 'href="/fail/unavailable?path=%2Fhome%2Falice" role="button">Try again' in page.text
    assert 'href="/jobs/42?tab=x" role="button">Try again' in sent.text
    assert 'href="/" role="button">Try again' in foreign.text, "never another site"
    # A change whose answer was lost may have been done: nothing is promised.
    assert lost.status_code == 503 and "nothing was changed" not in lost.text
    assert "Look whether it was done" in lost.text


async def test_a_stale_sign_in_gets_the_way_to_renew_it(client: httpx.AsyncClient) -> None:
    async with client:
        answer = await client.get("/fail/reauth")
    assert answer.status_code == 403 and "Please sign in again" in answer.text
    assert 'href="/login?next=%2Ffail%2Freauth&amp;fresh=1"' in answer.text


async def test_htmx_json_and_tus_get_answers_of_their_own(client: httpx.AsyncClient) -> None:
    async with client:
        fragment = await client.get("/fail/unavailable", headers={"hx-request": "true"})
        data = await client.get("/fail/invalid", headers={"accept": "application/json"})
        tus = {"tus-resumable": "1.0.0"}
        full = await client.post("/fail/no_space", headers=tus)
        taken = await client.post("/fail/conflict", headers=tus)
        down = await client.post("/fail/unavailable", headers=tus)
        page = await client.post("/fail/no_space")
    assert fragment.status_code == 503 and "<html" not in fragment.text
    assert 'role="alert"' in fragment.text and "Try again" in fragment.text
    assert data.status_code == 400
    assert data.json() == {
        "error": "invalid",
        "detail": "invalid",
        "message": "name: too long",
        "fields": {"name": "too long"},
    }
    assert (full.status_code, taken.status_code, down.status_code) == (413, 409, 503)
    assert full.headers["tus-resumable"] == "1.0.0" and full.text.startswith("Your disk quota")
    assert full.headers["content-type"].startswith("text/plain")
    assert page.status_code == 507 and "There is no space left" in page.text
