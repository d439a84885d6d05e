"""The Data tool in Chromium, as alice uses it (issue 12, "Browser"): she imports a
file from a slow web server and watches its progress bar move, browses the public
bucket's folders and imports a prefix, and finds both in the Files page in the folder
she picked, byte-identical to what the test hosts serve.

The world is real: a portal of its own (its agents run this checkout's engine), the
test hosts in their network namespace (nginx's ``/slow/`` location sends 256 KiB/s,
so a 3 MiB file takes about 12 s), moto's S3 server, and the page's own WebSocket
carrying the live rows. The README's Data screenshot is taken here, from real rows.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import TEST_PORT, Portal, portal_with_own_agents
from tests.transfers.hosts import TransferHosts, sha256_file, transfer_hosts

__all__ = ["transfer_hosts"]

ALICE = pwd.getpwnam("alice")
# A portal of this module's own, beside the session's (TEST_PORT) which may be running.
DATA_PORT = TEST_PORT + 4
SLOW_FILE = "data-3m.bin"  # about 12 s at the slow location: the bar is seen between


@pytest.fixture(scope="module")
def portal(
    cluster: None,
    idp: str,
    transfer_hosts: TransferHosts,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Portal]:
    with portal_with_own_agents(
        tmp_path_factory.mktemp("data-browser"),
        DATA_PORT,
        ONESTOP_DATA__ALLOWED_RANGES=json.dumps([transfer_hosts.network]),
        ONESTOP_DATA__CA_FILE=transfer_hosts.ca_file,
        ONESTOP_DATA__SECRET_KEY="browser-test-" + "b" * 40,
        ONESTOP_DATA__POLL_SECONDS="0.3",
    ) as running:
        yield running


@pytest.fixture
def folder() -> Iterator[Path]:
    """The folder she picks: her own, made as her (the worker writes into it as her)."""
    path = Path(ALICE.pw_dir) / f"survey-{uuid.uuid4().hex[:6]}"
    path.mkdir()
    os.chown(path, ALICE.pw_uid, ALICE.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def progress_values(page: Page, row: str, seconds: float) -> list[int]:
    """The bar's value as the page shows it, sampled until the row says done (or
    ``seconds`` pass): what she sees move, not what the database says."""
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    article = page.locator(row)
    while time.monotonic() < deadline:
        if article.get_attribute("data-state") == "done":
            break
        value = article.locator("progress").get_attribute("value")
        if value is not None and (not seen or seen[-1] != int(value)):
            seen.append(int(value))
        page.wait_for_timeout(250)
    return seen


def test_alice_brings_in_a_url_and_a_bucket_prefix_and_finds_them_in_files(
    page: Page, portal: Portal, transfer_hosts: TransferHosts, folder: Path
) -> None:
    hosts = transfer_hosts
    sign_in(page, portal.url, "alice")
    page.get_by_role("link", name="Data", exact=True).first.click()
    expect(page.get_by_role("heading", name="Bring data in from the web")).to_be_visible()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    # Every tab is one line: a label that wraps is what made the old page unclear.
    for tab in page.locator("nav.data-tabs a").all():
        box = tab.bounding_box()
        assert box is not None and box["height"] < 45, (tab.inner_text(), box)

    # 1. The public bucket, looked inside first, one folder chosen.
    page.get_by_role("link", name="S3 bucket").click()
    expect(page.get_by_role("heading", name="Bring data in from an S3 bucket")).to_be_visible()
    page.locator("#field-bucket").fill(hosts.s3_public_bucket)
    page.get_by_text("Server and keys").click()
    page.locator("#field-endpoint_url").fill(hosts.s3_endpoint)
    page.locator("#field-region").fill(hosts.s3_region)
    page.get_by_role("button", name="Look inside first").click()
    page.locator("#data-browse").get_by_role("link", name=hosts.s3_prefix).click()
    expect(page.locator("#field-prefix")).to_have_value(re.compile(r"^dataset/?$"))
    expect(page.locator("#data-browse")).to_contain_text("a.csv")
    folder_bucket = folder / "bucket"
    folder_bucket.mkdir()
    os.chown(folder_bucket, ALICE.pw_uid, ALICE.pw_gid)
    page.get_by_label("Folder on the cluster").fill(str(folder_bucket))
    page.get_by_role("button", name="Bring it in").click()
    s3_row = f'article.data-transfer:has(code:text("{hosts.s3_public_bucket}"))'
    expect(page.locator(s3_row)).to_have_attribute("data-state", "done", timeout=60000)
    expect(page.locator(s3_row).locator("progress")).to_have_attribute("value", "100")
    expect(page.locator(s3_row)).to_contain_text("3 of 3 files")

    # 2. A file from a slow web server, with its SHA-256 pasted after the address.
    page.get_by_role("link", name="Web address(es)").click()
    page.get_by_label("Web address(es), one per line").fill(
        f"{hosts.slow_url(SLOW_FILE)} {hosts.files[SLOW_FILE]}"
    )
    page.get_by_label("Folder on the cluster").fill(str(folder))
    page.get_by_role("button", name="Bring it in").click()
    url_row = f'article.data-transfer:has(code:text("{SLOW_FILE}"))'
    expect(page.locator(url_row)).to_have_attribute("data-state", "running", timeout=30000)
    seen = progress_values(page, url_row, 7)
    moving = [value for value in seen if 0 < value < 100]
    assert len(set(moving)) >= 2, f"the bar did not move while she watched: {seen}"
    assert moving == sorted(moving), f"the bar went backwards: {seen}"
    # Half-way, with the bucket's import done below it: the README's picture.
    expect(page.locator(url_row)).to_have_attribute("data-state", "running")
    expect(page.locator(url_row)).to_contain_text("left")
    screenshot(page, "data")
    expect(page.locator(url_row)).to_have_attribute("data-state", "done", timeout=60000)
    expect(page.locator(url_row)).to_contain_text("Verified")
    expect(page.locator(url_row).locator("progress")).to_have_attribute("value", "100")
    screenshot(page, "data-done")

    # 3. The files, in the Files page, in the folder she picked.
    page.locator(url_row).get_by_role("button", name="Show in Files").click()
    expect(page.locator(f'tr.file-row[data-path="{folder / SLOW_FILE}"]')).to_be_visible()
    expect(page.locator(f'tr.file-row[data-path="{folder_bucket}"]')).to_be_visible()
    page.locator(f'tr.file-row[data-path="{folder_bucket}"] td.name a').first.click()
    for name in ("a.csv", "b.bin", "sub"):
        expect(page.locator(f'tr.file-row[data-path="{folder_bucket / name}"]')).to_be_visible()
    screenshot(page, "data-in-files")

    assert sha256_file(folder / SLOW_FILE) == hosts.files[SLOW_FILE]
    for relative in ("folder/a.csv", "folder/b.bin", "folder/sub/c.txt"):
        arrived = folder_bucket / relative.removeprefix("folder/")
        assert sha256_file(arrived) == hosts.files[relative], relative
        assert (arrived.stat().st_uid, arrived.stat().st_gid) == (ALICE.pw_uid, ALICE.pw_gid)
