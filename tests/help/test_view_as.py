""" "See what she sees" through a real portal: carol (staff) opens a read-only view of
alice's portal from alice's question, only while alice consents; what carol opens is
listed in alice's thread and audited as carol's; nothing can be changed from the
view; it ends when alice takes her consent back, when carol stops it, or at its time.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import Portal
from tests.help.conftest import HELP_PORT, csrf_of, started
from tests.help.test_portal_help import ask, audit_has, bodies
from tests.helpers import signed_in, wait_until

ALICE = pwd.getpwnam("alice")
BANNER = 'id="view-as-banner"'


@pytest.fixture
def her_file() -> Iterator[Path]:
    """A file only alice has, alone in a private folder of hers (her home holds too
    many files for one page of a listing): seen in its listing means the page is hers."""
    folder = Path(ALICE.pw_dir) / f"view-as-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o700)
    path = folder / "notes.txt"
    path.write_text("alice's own words\n")
    for made in (folder, path):
        os.chown(made, ALICE.pw_uid, ALICE.pw_gid)
    path.chmod(0o600)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


def listing(client: httpx.Client, portal: Portal, her_file: Path) -> str:
    """The Files page of the folder holding ``her_file``, as ``client`` gets it."""
    return client.get(portal.url + "/files", params={"path": str(her_file.parent)}).text


def open_view(client: httpx.Client, portal: Portal, ticket: str) -> httpx.Response:
    return client.post(
        f"{portal.url}/help/{ticket}/view-as", data={"csrf_token": csrf_of(client, portal)}
    )


def test_carol_sees_alices_files_read_only_and_alice_sees_who_looked(
    help_portal: Portal, her_file: Path
) -> None:
    portal = help_portal
    made = Path(ALICE.pw_dir) / f"made-in-view-{uuid.uuid4().hex[:6]}"
    with (
        signed_in(portal.url, "alice") as alice,
        signed_in(portal.url, "carol") as carol,
        signed_in(portal.url, "bob") as bob,
    ):
        ticket = ask(alice, portal, "/files", ["page"], consent="on", text="Where is my file?")
        # bob is not staff: there is no such thing for him to open.
        assert open_view(bob, portal, ticket).status_code == 404
        assert BANNER not in bob.get(portal.url + "/files").text

        opened = open_view(carol, portal, ticket)
        assert opened.status_code == 303 and opened.headers["location"] == "/"
        csrf = csrf_of(carol, portal)  # the page it comes from is alice's, read-only
        shown = carol.get(portal.url + "/files", params={"path": str(her_file.parent)})
        assert shown.status_code == 200
        assert BANNER in shown.text and "alice's portal" in shown.text
        assert her_file.name in shown.text
        # Her places, not carol's: alice is in chem, carol in physics.
        assert "Project chem" in shown.text and "Project physics" not in shown.text
        assert 'id="get-help"' not in shown.text  # nobody asks for help as her

        # Nothing changes from the view: a form posted anyway is refused before any
        # route, and the gate would refuse the verb too (tests/verbs/test_gate.py).
        refused = carol.post(
            portal.url + "/files/new",
            data={"csrf_token": csrf, "folder": ALICE.pw_dir, "name": made.name, "kind": "folder"},
        )
        assert refused.status_code == 403 and "read-only view" in refused.text
        assert not made.exists()
        # Her file's bytes never reach the looker: reading is not looking at a listing.
        download = carol.get(portal.url + "/files/download", params={"path": str(her_file)})
        assert "alice's own words" not in download.text
        assert download.status_code == 403

        # alice reads, in her thread, who looked at what; the audit has it as carol's.
        seen = f"/files?path={quote(str(her_file.parent), safe='')}"
        wait_until(lambda: ("looked", seen) in bodies(portal, ticket), 10)
        thread = alice.get(f"{portal.url}/help/{ticket}").text
        assert f"looked at <code>{seen}</code>" in thread and "carol" in thread
        assert audit_has(portal, "help.view", "carol", "ok")
        assert audit_has(portal, "files.page", "carol", "ok")
        assert audit_has(portal, "files.read", "carol", "denied")

        # She takes her consent back: carol's next page is carol's own again.
        taken_back = alice.post(
            f"{portal.url}/help/{ticket}/consent", data={"csrf_token": csrf_of(alice, portal)}
        )
        assert taken_back.status_code == 303
        own = listing(carol, portal, her_file)
        assert BANNER not in own and her_file.name not in own
        # Consent given again does not bring an old view back: it must be opened anew.
        alice.post(
            f"{portal.url}/help/{ticket}/consent",
            data={"csrf_token": csrf_of(alice, portal), "consent": "on"},
        )
        assert BANNER not in listing(carol, portal, her_file)


def test_no_view_without_her_consent_and_stopping_ends_it(
    help_portal: Portal, her_file: Path
) -> None:
    portal = help_portal
    with signed_in(portal.url, "alice") as alice, signed_in(portal.url, "carol") as carol:
        without = ask(alice, portal, "/", ["page"], text="No peeking, please.")
        refused = open_view(carol, portal, without)
        assert refused.status_code == 409 and "has not let" in refused.text
        assert BANNER not in carol.get(portal.url + "/").text
        # carol asks from the thread instead; alice reads how to say yes.
        staff_page = carol.get(f"{portal.url}/help/{without}").text
        assert 'id="help-ask-consent"' in staff_page and 'id="help-view-as"' not in staff_page
        offered = re.search(
            r'id="help-ask-consent">.*?name="text" value="([^"]+)"', staff_page, re.S
        )
        assert offered is not None
        asked = carol.post(
            f"{portal.url}/help/{without}/reply",
            data={"csrf_token": csrf_of(carol, portal), "text": offered.group(1)},
        )
        assert asked.status_code == 303
        hers = alice.get(f"{portal.url}/help/{without}").text
        assert "Could we look at what you see?" in hers and 'id="help-ask-consent"' not in hers

        with_consent = ask(alice, portal, "/", ["page"], consent="on")
        assert open_view(carol, portal, with_consent).status_code == 303
        assert BANNER in carol.get(portal.url + "/").text
        stopped = carol.post(
            portal.url + "/view-as/stop", data={"csrf_token": csrf_of(carol, portal)}
        )
        assert stopped.status_code == 303
        assert stopped.headers["location"] == f"/help/{with_consent}"
        page = listing(carol, portal, her_file)
        assert BANNER not in page and her_file.name not in page


def test_a_view_ends_at_its_time(cluster: None, idp: str, tmp_path: Path, her_file: Path) -> None:
    """One minute, the shortest a site may set: then carol is herself again."""
    with (
        started(tmp_path, HELP_PORT + 2, ONESTOP_HELP__VIEW_MINUTES="1") as portal,
        signed_in(portal.url, "alice") as alice,
        signed_in(portal.url, "carol") as carol,
    ):
        ticket = ask(alice, portal, "/", ["page"], consent="on")
        assert open_view(carol, portal, ticket).status_code == 303
        assert her_file.name in listing(carol, portal, her_file)
        wait_until(lambda: BANNER not in listing(carol, portal, her_file), 75, every=5)
        assert her_file.name not in listing(carol, portal, her_file)


def test_staff_open_her_attached_file_only_through_her_question(
    help_portal: Portal, her_file: Path
) -> None:
    """The file is read as alice (mode 600: nobody else could), downloaded, never
    shown inline; bob, even as a member of the project she shared it with, gets
    nothing, and an index past her list is no file."""
    portal = help_portal
    with (
        signed_in(portal.url, "alice") as alice,
        signed_in(portal.url, "carol") as carol,
        signed_in(portal.url, "bob") as bob,
    ):
        ticket = ask(alice, portal, "/files", ["page"], attachments=f"{her_file}\n", project="chem")
        page = carol.get(f"{portal.url}/help/{ticket}").text
        assert f'href="/help/{ticket}/files/0"' in page
        got = carol.get(f"{portal.url}/help/{ticket}/files/0")
        assert got.status_code == 200 and got.content == her_file.read_bytes()
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert her_file.name in got.headers["content-disposition"]
        assert got.headers["x-content-type-options"] == "nosniff"
        assert alice.get(f"{portal.url}/help/{ticket}/files/0").content == her_file.read_bytes()
        # bob reads the question (shared with chem) but not her file through it.
        assert bob.get(f"{portal.url}/help/{ticket}").status_code == 200
        refused = bob.get(f"{portal.url}/help/{ticket}/files/0")
        assert refused.status_code == 404 and "alice's own words" not in refused.text
        assert carol.get(f"{portal.url}/help/{ticket}/files/1").status_code == 404
        assert audit_has(portal, "help.attachment", "carol", "ok")
        assert audit_has(portal, "help.attachment", "bob", "denied")


def test_the_sites_rule_lets_admins_look_without_consent(
    help_portal: Portal, tmp_path: Path, her_file: Path
) -> None:
    """Off by default (erin, an admin, is refused like carol); where the site turns it
    on, erin may look without alice's consent, carol (staff, not admin) still not,
    and alice still reads who looked."""
    with signed_in(help_portal.url, "alice") as alice, signed_in(help_portal.url, "erin") as erin:
        ticket = ask(alice, help_portal, "/", ["page"], text="No consent here.")
        assert open_view(erin, help_portal, ticket).status_code == 409
    with (
        started(
            tmp_path, HELP_PORT + 2, ONESTOP_HELP__ADMINS_VIEW_WITHOUT_CONSENT="true"
        ) as portal,
        signed_in(portal.url, "alice") as alice,
        signed_in(portal.url, "carol") as carol,
        signed_in(portal.url, "erin") as erin,
    ):
        ticket = ask(alice, portal, "/", ["page"], text="No consent here either.")
        assert open_view(carol, portal, ticket).status_code == 409
        assert "See what alice sees" in erin.get(f"{portal.url}/help/{ticket}").text
        assert open_view(erin, portal, ticket).status_code == 303
        assert her_file.name in listing(erin, portal, her_file)
        thread = alice.get(f"{portal.url}/help/{ticket}").text
        assert "erin" in thread and "looked at <code>/files?path=" in thread
