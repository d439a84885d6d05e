"""One log configuration (managers/logs.py): structlog's own lines and the standard
library's records come out as the same JSON lines, in a process of their own."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import REPO

KEYS = {"timestamp", "level", "event", "logger"}

# Configured twice, as two portals in one process would: each record still gives one line.
PROGRAM = """
import logging
from managers.logs import configure_logging, get_logger
early = get_logger("onestop.early")  # made at import time, before the configuration
configure_logging("DEBUG")
configure_logging("INFO")
early.info("structlog.line", user="alice", count=3)
early.debug("structlog.hidden")
logging.getLogger("onestop.scheduler.states").warning("unrecognised Slurm job state %r", "NEW")
logging.getLogger("uvicorn.error").debug("stdlib.hidden")
logging.getLogger("watchfiles.main").info("1 change detected")  # noise at INFO
try:
    raise ValueError("boom")
except ValueError:
    logging.getLogger("aiohttp.server").exception("stdlib.failed")
"""


def records(program: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout == ""
    return [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON


def test_structlog_and_standard_library_records_are_the_same_json_lines() -> None:
    mine, theirs, failed = records(PROGRAM)
    for record in (mine, theirs, failed):
        assert KEYS <= record.keys(), record
        assert record["timestamp"].endswith("Z")
    assert mine == {**mine, "event": "structlog.line", "level": "info", "logger": "onestop.early"}
    assert (mine["user"], mine["count"]) == ("alice", 3)
    assert theirs == {
        **theirs,
        "event": "unrecognised Slurm job state 'NEW'",
        "level": "warning",
        "logger": "onestop.scheduler.states",
    }
    assert (failed["event"], failed["level"]) == ("stdlib.failed", "error")
    assert "ValueError: boom" in failed["exception"]


def test_json_false_gives_plain_lines_without_colours_off_a_terminal() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging\n"
            "from managers.logs import configure_logging, get_logger\n"
            "configure_logging('INFO', json=False)\n"
            "get_logger('onestop.app').info('portal.started', port=8000)\n"
            "logging.getLogger('uvicorn.error').info('Uvicorn running')\n",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and not any(line.startswith("{") for line in lines)
    assert "portal.started" in lines[0] and "port=8000" in lines[0]
    assert "Uvicorn running" in lines[1] and "uvicorn.error" in lines[1]
    assert "\x1b[" not in done.stderr, "no colour codes in a file"
