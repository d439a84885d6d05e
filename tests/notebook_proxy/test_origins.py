"""Where sessions live, from the settings alone: names, origins, cookies, claims."""

from __future__ import annotations

import pytest

from app.origins import host_of
from app.settings import Settings
from app.tools import ToolError, discover, origins_of
from wrappers.notebooks.proxy.answers import set_cookie
from wrappers.notebooks.proxy.connect import safe_next
from wrappers.notebooks.proxy.origins import NotebookOrigins

ID = "0123456789abcdef"


def settings(public_url: str, **notebooks: object) -> Settings:
    return Settings(public_url=public_url, database_url="sqlite:///x.db", notebooks=notebooks)


def test_each_session_gets_a_host_under_the_domain_on_the_portals_scheme_and_port() -> None:
    demo = NotebookOrigins.of(settings("http://127.0.0.1:8000"))
    assert demo.origin(ID) == f"http://{ID}.nb.localhost:8000"
    assert demo.netloc(ID) == f"{ID}.nb.localhost:8000" and not demo.tls
    assert (demo.cookie_name(ID), demo.state_cookie_name(ID)) == ("onestop_nb", "onestop_nb_state")
    site = NotebookOrigins.of(settings("https://hpc.example.edu", domain="notebooks.example.edu"))
    assert site.origin(ID) == f"https://{ID}.notebooks.example.edu", "443 left out, as browsers do"
    assert site.tls and site.cookie_name(ID) == "__Host-onestop-nb"
    moved = NotebookOrigins.of(
        settings("https://hpc.example.edu", domain="nb.example.org", scheme="https", port=8443)
    )
    assert moved.origin(ID) == f"https://{ID}.nb.example.org:8443"


def test_a_host_names_its_session_and_nothing_else_is_one() -> None:
    origins = NotebookOrigins.of(
        settings("https://hpc.example.edu", domain="notebooks.example.edu")
    )
    path = f"/notebooks/{ID}/lab"
    assert origins.session_of(f"{ID}.notebooks.example.edu", path) == ID
    for host in (
        "notebooks.example.edu",
        f"x.{ID}.notebooks.example.edu",
        "other.notebooks.example.edu",
    ):
        assert origins.claims(host) and origins.session_of(host, path) is None, host
    for host in ("hpc.example.edu", f"{ID}.notebooks.example.edu.evil.example", "example.edu"):
        assert not origins.claims(host), host
    assert host_of(f"{ID}.Notebooks.Example.EDU.:443") == f"{ID}.notebooks.example.edu"
    assert host_of("[::1]:8000") == "[::1]"


def test_one_shared_host_names_the_session_by_its_path_and_a_cookie_each() -> None:
    origins = NotebookOrigins.of(settings("https://hpc.example.edu", host="notebooks.example.edu"))
    assert origins.origin(ID) == "https://notebooks.example.edu"
    assert origins.session_of("notebooks.example.edu", f"/notebooks/{ID}/lab") == ID
    assert origins.session_of("notebooks.example.edu", "/lab") is None
    assert not origins.claims(f"{ID}.notebooks.example.edu")
    assert origins.cookie_name(ID) == f"__Host-onestop-nb-{ID}"
    assert origins.state_cookie_name(ID) == f"__Host-onestop-nb-state-{ID}"


def test_notebook_hosts_may_never_take_the_portals_own() -> None:
    tools = discover()
    assert origins_of(tools, settings("https://hpc.example.edu", domain="nb.example.edu"))
    for wrong in ({"domain": "example.edu"}, {"host": "hpc.example.edu"}):
        with pytest.raises(ToolError, match="portal's own host"):
            origins_of(tools, settings("https://hpc.example.edu", **wrong))


def test_the_pass_is_a_cookie_of_that_host_alone() -> None:
    cookie = set_cookie("__Host-onestop-nb", "v", 3600, tls=True)
    assert cookie == "__Host-onestop-nb=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure"
    assert "Domain" not in set_cookie("onestop_nb", "v", -5, tls=False)
    assert "Max-Age=0" in set_cookie("onestop_nb", "v", -5, tls=False)


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        (f"/notebooks/{ID}/lab/tree/a%20b.ipynb?reset", True),
        (f"/notebooks/{ID}/", True),
        (f"/notebooks/{ID}/../fedcba9876543210/lab", False),
        ("/notebooks/fedcba9876543210/lab", False),
        ("//elsewhere.example/x", False),
        (f"http://elsewhere.example/notebooks/{ID}/lab", False),
        ("/files", False),
        ("", False),
    ],
)
def test_after_connecting_she_lands_inside_the_session(asked: str, kept: bool) -> None:
    assert safe_next(asked, ID) == (asked if kept else f"/notebooks/{ID}/")
