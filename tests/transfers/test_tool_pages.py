"""The Data page in a real portal process: it renders for alice with every tab,
forms carry their CSRF token, and bob finds nothing of alice's by address or form."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.conftest import Portal, running_portal
from tests.helpers import signed_in

PORT = 8004
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def data_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with running_portal(
        tmp_path_factory.mktemp("data-portal"),
        PORT,
        ONESTOP_DATA__SECRET_KEY="pages-" + "s" * 40,
    ) as portal:
        yield portal


def _alices_transfer(portal: Portal, state: str = "failed") -> str:
    transfer_id = uuid.uuid4().hex[:16]
    now = datetime.now(UTC).isoformat(sep=" ")
    with sqlite3.connect(portal.database_url.removeprefix("sqlite:///")) as db:
        db.execute(
            "insert into data_transfers (id, owner, direction, kind, summary, endpoint, "
            "secret_blob, local_path, unpack, state, bytes_done, files_done, rate, current, "
            "message, error, offered_host_key, offered_fingerprint, verified, results, "
            "runs_as, notify_email, retries, token, created_at, updated_at) values "
            "(?, 'alice', 'import', 'url', 'https://198.51.100.2/secret-plans.csv', "
            '\'{"kind": "url", "items": [{"url": "https://198.51.100.2/x"}]}\', \'\', '
            "'/home/alice', 0, ?, 10, 0, 0, '', 'The server said no.', 'failed', '', '', 0, "
            "'[]', 'agent', '', 0, ?, ?, ?)",
            (transfer_id, state, transfer_id, now, now),
        )
    return transfer_id


def test_the_data_page_renders_for_alice(data_portal: Portal) -> None:
    with signed_in(data_portal.url, "alice") as client:
        for tab, words in [
            ("url", "one per line"),
            ("s3", "Folder in the bucket"),
            ("sftp", "Your user name there"),
            ("webdav", "app password"),
            ("git", "Repository address"),
            ("export", "Send results out"),
            ("connections", "Save a new connection"),
        ]:
            page = client.get(f"{data_portal.url}/data", params={"tab": tab})
            assert page.status_code == 200, page.text[:500]
            assert words in page.text, tab
            assert CSRF.search(page.text), "forms carry the CSRF token"
            assert "Traceback" not in page.text
        assert 'href="/data"' in client.get(f"{data_portal.url}/").text, "nav and card"
        # A mistake is said next to its field, in words, with a 400.
        token = CSRF.search(client.get(f"{data_portal.url}/data").text).group(1)  # type: ignore[union-attr]
        answer = client.post(
            f"{data_portal.url}/data/import",
            data={"csrf_token": token, "source": "url", "urls": "file:///etc/passwd"},
        )
        assert answer.status_code == 400 and "field-error" in answer.text
        # Without the CSRF token nothing happens.
        refused = client.post(f"{data_portal.url}/data/import", data={"source": "url"})
        assert refused.status_code == 403


def test_bob_finds_nothing_of_alices(data_portal: Portal) -> None:
    transfer_id = _alices_transfer(data_portal)
    with signed_in(data_portal.url, "alice") as alice:
        page = alice.get(f"{data_portal.url}/data")
        assert transfer_id in page.text and "The server said no." in page.text
        assert "Retry" in page.text
        fragment = alice.get(f"{data_portal.url}/data/transfers")
        assert transfer_id in fragment.text
    with signed_in(data_portal.url, "bob") as bob:
        page = bob.get(f"{data_portal.url}/data")
        assert transfer_id not in page.text and "secret-plans" not in page.text
        assert transfer_id not in bob.get(f"{data_portal.url}/data/transfers").text
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        for action in ("cancel", "retry", "forget"):
            answer = bob.post(
                f"{data_portal.url}/data/transfers/{transfer_id}/{action}",
                data={"csrf_token": token},
            )
            assert answer.status_code == 404, (action, answer.status_code)
            assert "secret-plans" not in answer.text
    with sqlite3.connect(data_portal.database_url.removeprefix("sqlite:///")) as db:
        assert db.execute(
            "select state from data_transfers where id = ?", (transfer_id,)
        ).fetchone() == ("failed",)
