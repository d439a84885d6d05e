"""Structured logs: one JSON object a line, always saying who did what.

One configuration for every process of the project (the portal, the agent gateway,
the launcher and each person's agent): structlog's processors add the same keys to
every line (``timestamp``, ``level``, ``event``, ``logger``) and render it once.
Records of the standard library (uvicorn, aiohttp, watchfiles, ``logging.getLogger``
in our own code) go through the same processors by way of structlog's
``ProcessorFormatter``, so a log holds one kind of line whoever wrote it.

It lives in ``managers`` because agents import nothing of the web tier.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

__all__ = ["configure_logging", "get_logger"]


class _Writer(structlog.WriteLogger):
    """Lines to one stream, each written whole under structlog's lock of that stream,
    knowing the name ``get_logger`` was called with (``add_logger_name`` reads it)."""

    def __init__(self, file: TextIO, name: str = "") -> None:
        super().__init__(file)
        self.name = name


class _Handler(logging.Handler):
    """Standard-library records, formatted by structlog, written by the same writer
    (so its lines never interleave with structlog's). Ours, so that a second
    configure_logging replaces it instead of adding another."""

    def __init__(self, writer: _Writer, formatter: logging.Formatter) -> None:
        super().__init__()
        self.writer = writer
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.msg(self.format(record))
        except Exception:
            self.handleError(record)


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard library through one renderer on stderr.

    ``level`` is a standard level name (an unknown one means INFO); ``json=False``
    renders for a person at a terminal instead. Safe to call again: the last call wins.
    """
    number = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    stream = sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Our own loggers render straight to the stream (no logging.LogRecord per line: a
    # busy notebook page logs hundreds of requests a second).
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=lambda *args: _Writer(stream, *args),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    root = logging.getLogger()
    for old in [old for old in root.handlers if isinstance(old, _Handler)]:
        root.removeHandler(old)
    root.addHandler(_Handler(_Writer(stream), formatter))
    root.setLevel(number)
    # watchfiles says "1 change detected" at INFO for every change it reports: the
    # Slurm hook's file in the portal, each open folder in an agent. Kept for DEBUG.
    logging.getLogger("watchfiles").setLevel(logging.WARNING if number > logging.DEBUG else 0)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger whose lines say ``"logger": name``; usable before configure_logging
    (it looks the configuration up when it first logs or binds)."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]
