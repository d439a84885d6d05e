"""Screenshots on a question, through a real portal: she adds a PNG from the
question's page (htmx, multipart, the CSRF token as its header); it is shown back
only as the image type its bytes prove, to her and staff, never to bob; anything
else, or too large, is refused in plain words with nothing kept."""

from __future__ import annotations

import sqlite3
import struct
import zlib

import httpx

from tests.conftest import Portal
from tests.help.conftest import csrf_of
from tests.help.test_portal_help import ask, db_of
from tests.helpers import signed_in


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG (grey pixels), made here so the test needs no image library."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def add(
    client: httpx.Client, portal: Portal, ticket: str, name: str, data: bytes
) -> httpx.Response:
    return client.post(
        f"{portal.url}/help/{ticket}/screenshot",
        files={"screenshot": (name, data, "image/png")},
        headers={"X-CSRF-Token": csrf_of(client, portal), "HX-Request": "true"},
    )


def images_of(portal: Portal, ticket: str) -> list[tuple[int, str, bytes]]:
    with sqlite3.connect(db_of(portal)) as db:
        rows = db.execute(
            "SELECT id, media_type, data FROM help_images WHERE ticket_id = ? ORDER BY id",
            (ticket,),
        )
        return [(int(i), str(m), bytes(d)) for i, m, d in rows]


def test_she_adds_a_screenshot_and_staff_see_it(help_portal: Portal) -> None:
    portal = help_portal
    picture = png()
    with (
        signed_in(portal.url, "alice") as alice,
        signed_in(portal.url, "carol") as carol,
        signed_in(portal.url, "bob") as bob,
    ):
        ticket = ask(alice, portal, "/", ["page"], text="The page looks broken")
        page = alice.get(f"{portal.url}/help/{ticket}").text
        assert 'id="help-screenshot-form"' in page and "No screenshot yet." in page

        added = add(alice, portal, ticket, "screen.png", picture)
        assert added.status_code == 200, added.text[-1500:]
        [(image_id, media, data)] = images_of(portal, ticket)
        assert (media, data) == ("image/png", picture)
        assert f'src="/help/{ticket}/images/{image_id}"' in added.text

        for who in (alice, carol):
            shown = who.get(f"{portal.url}/help/{ticket}/images/{image_id}")
            assert shown.status_code == 200 and shown.content == picture
            assert shown.headers["content-type"] == "image/png"
            assert shown.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in shown.headers["content-security-policy"]
        assert f"/help/{ticket}/images/{image_id}" in carol.get(f"{portal.url}/help/{ticket}").text

        # bob: not his question, not shared with him.
        assert bob.get(f"{portal.url}/help/{ticket}/images/{image_id}").status_code == 404
        assert add(bob, portal, ticket, "mine.png", png()).status_code == 404
        assert len(images_of(portal, ticket)) == 1


def test_what_is_not_a_picture_or_too_large_is_refused(help_portal: Portal) -> None:
    portal = help_portal
    with signed_in(portal.url, "alice") as alice:
        ticket = ask(alice, portal, "/", ["page"])
        # A page of script named like a picture: judged by its bytes, not its name.
        script = b"<html><script>alert(document.cookie)</script></html>"
        refused = add(alice, portal, ticket, "shot.png", script)
        assert refused.status_code == 200
        assert "must be a PNG or JPEG picture" in refused.text
        too_big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024)
        refused = add(alice, portal, ticket, "huge.png", too_big)
        assert "the help desk takes at most 5,242,880" in refused.text
        empty = add(alice, portal, ticket, "none.png", b"")
        assert "Choose a picture first." in empty.text
        assert images_of(portal, ticket) == []
        # Without the page's token the picture is not even read.
        forged = alice.post(
            f"{portal.url}/help/{ticket}/screenshot",
            files={"screenshot": ("x.png", png(), "image/png")},
        )
        assert forged.status_code == 403 and images_of(portal, ticket) == []
