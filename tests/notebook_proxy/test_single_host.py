"""The weaker choice: every notebook session under ``/notebooks/<id>/`` of one host of
their own (``notebooks.host``), for a site that cannot have wildcard names.

The portal's origin is still out of reach of every notebook, and each session still
takes a pass of its own (a cookie named for it): one session's pass opens no other.
What this host cannot give is a wall between her sessions in the browser: they share
an origin, so script in one can reach her others (README: Notebooks on their own
origins).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import TEST_PORT, Portal, running_portal
from tests.notebook_origin import (
    answering,
    connect_session,
    cookies_for,
    signed_in_browser,
    stand_in,
)
from tests.notebook_paths import PATHS, portal_behind_nginx

HOST = "nb.localhost"


@pytest.fixture(scope="module", params=PATHS)
def one_host_portal(
    cluster: None,
    idp: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Portal]:
    """The portal with one notebook host, its own proxy carrying notebook traffic or
    nginx in front (the server block rendered for ``notebooks.host``)."""
    workdir = tmp_path_factory.mktemp("single-host")
    if request.param == "nginx":
        with portal_behind_nginx(workdir, ONESTOP_NOTEBOOKS__HOST=HOST) as portal:
            yield portal
        return
    with running_portal(workdir, TEST_PORT + 10, ONESTOP_NOTEBOOKS__HOST=HOST) as portal:
        yield portal


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    with answering() as port:
        yield port


def test_sessions_share_one_host_and_each_takes_its_own_pass(
    one_host_portal: Portal, upstream: int
) -> None:
    portal = one_host_portal
    notebooks = f"http://{HOST}:{urlsplit(portal.url).port}"
    first = stand_in(portal.database_url, upstream)
    second = stand_in(portal.database_url, upstream)
    with signed_in_browser(portal.url, "alice") as alice:
        page, visited = connect_session(alice, portal.url, first.session_id)
        assert page.status_code == 200 and visited[-1] == f"{notebooks}{first.base}lab"
        assert page.json()["host"] == urlsplit(notebooks).netloc, "Jupyter sees that host"
        names = {c.name for c in alice.cookies.jar if c.domain == HOST}
        assert f"onestop_nb-{first.session_id}" in names
        # Her first session's pass does not open the second: Connect for it first.
        other = alice.get(f"{notebooks}{second.base}lab")
        assert other.status_code == 303
        assert other.headers["location"].startswith("/_onestop/connect?")
        forged = alice.get(
            f"{notebooks}{second.base}lab",
            headers={
                "Cookie": cookies_for(alice, HOST).replace(
                    f"onestop_nb-{first.session_id}", f"onestop_nb-{second.session_id}"
                )
            },
        )
        assert forged.status_code == 403 and "not yours" in forged.text
        assert connect_session(alice, portal.url, second.session_id)[0].status_code == 200
        for session in (first, second):
            assert alice.get(f"{notebooks}{session.base}api/status").status_code == 200
        # Nothing else lives on that host, and the portal's pages are not there.
        for path in ("/", "/login", "/notebooks"):
            assert alice.get(notebooks + path).status_code == 404, path
        # The session's own origin is that host: a change from the portal is refused.
        refused = alice.post(f"{notebooks}{first.base}api/kernels", headers={"Origin": portal.url})
        assert refused.status_code == 403
    with signed_in_browser(portal.url, "bob") as bob:
        refused_bob, _ = connect_session(bob, portal.url, first.session_id)
        assert refused_bob.status_code == 404 and "not yours" in refused_bob.text
