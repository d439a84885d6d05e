"""Opening a folder of 100,000 entries: the file manager's first page vs ``ls -U``.

Starts its own portal (port 8002 unless ``--port``, fresh SQLite), signs alice in,
makes a folder of 100,000 empty files in her home, then times, in this run:

- ``ls -U`` of the whole folder (directory order, no sorting, no stat), as alice;
- the portal's folder page (HTTP, session, gate, Casbin, audit, her agent, the
  rendered HTML of the first 200 rows) sorted by name, the default;
- the same in folder order (``order=folder``), which stops reading after the page;
- the next page by its cursor, and the first page sorted by size (a stat of all).

Prints medians and each ratio to ``ls -U``. The issue's bar: the first page well
under a second; folder order faster than ``ls -U`` of the whole folder.

    .venv/bin/python -m loadtests.bench_folder [--entries 100000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import running_portal
from tests.helpers import new_client, sign_in

FOLDER = Path("/home/alice/bench-100k")


def make_folder(entries: int) -> None:
    """Empty files made as root in one directory (seconds, not minutes), then hers."""
    shutil.rmtree(FOLDER, ignore_errors=True)
    FOLDER.mkdir()
    descriptor = os.open(FOLDER, os.O_RDONLY)
    try:
        for number in range(entries):
            name = f"sample-{number:06d}.dat"
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=descriptor))
    finally:
        os.close(descriptor)
    os.chown(FOLDER, 2001, 2001)


def median_ms(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def ls_u() -> None:
    subprocess.run(
        ["runuser", "-u", "alice", "--", "ls", "-U", str(FOLDER)],
        stdout=subprocess.DEVNULL,
        check=True,
    )


def runuser_true() -> None:
    subprocess.run(["runuser", "-u", "alice", "--", "true"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--port", type=int, default=8002)
    options = parser.parse_args()
    make_folder(options.entries)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            with running_portal(Path(workdir), options.port, ONESTOP_LOG_LEVEL="WARNING") as portal:
                run(portal.url, options.rounds, options.entries)
    finally:
        shutil.rmtree(FOLDER, ignore_errors=True)


def run(url: str, rounds: int, entries: int) -> None:
    with new_client() as client:
        sign_in(client, url, "alice")

        def page(**params: str) -> httpx.Response:
            answer = client.get(f"{url}/files", params={"path": str(FOLDER), **params})
            assert answer.status_code == 200, answer.status_code
            return answer

        first = page()
        assert f"{entries:,} items" in first.text and first.text.count('class="file-row"') == 200
        cursor = re.search(r'id="more-rows" hx-get="([^"]+)"', first.text)
        assert cursor is not None
        more = url + cursor.group(1).replace("&amp;", "&")

        def next_page() -> None:
            client.get(more, headers={"hx-request": "true"}).raise_for_status()

        # ls -U through runuser includes starting runuser; its own cost is shown apart.
        listing = median_ms(ls_u, rounds)
        startup = median_ms(runuser_true, rounds)
        ls_only = max(listing - startup, 0.1)
        timings = {
            "first page, by name (default)": median_ms(page, rounds),
            "first page, folder order": median_ms(lambda: page(order="folder"), rounds),
            "next page, by name (cursor)": median_ms(next_page, rounds),
            "first page, by size (stat of all)": median_ms(lambda: page(order="size"), rounds),
        }
    print(f"folder of {entries:,} entries, medians of {rounds} rounds")
    print(
        f"  ls -U of the whole folder as alice: {listing:8.1f} ms "
        f"(runuser alone {startup:.1f} ms, so ls itself ~{ls_only:.1f} ms)"
    )
    for label, ms in timings.items():
        print(
            f"  portal {label:36s} {ms:8.1f} ms   "
            f"{ms / listing:5.2f}x ls -U with runuser, {ms / ls_only:5.2f}x ls -U alone"
        )


if __name__ == "__main__":
    main()
