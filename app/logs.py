"""Structured logs for the web tier: the one configuration in ``managers/logs.py``
(agents and the gateway use it too, and import nothing of ``app``)."""

from __future__ import annotations

from managers.logs import configure_logging, get_logger

__all__ = ["configure_logging", "get_logger"]
