"""Where browsers reach notebook sessions: on an origin of their own, never the portal's.

Script in a notebook's output runs with the origin of the page showing it. On the
portal's origin it could read her portal pages and act as her; so each session is
served from a host of its own under the notebook domain (``<id>.nb.localhost`` in
the demo, ``<id>.notebooks.example.edu`` on a site with a wildcard name and
certificate), where no cookie or page of the portal exists. A site that cannot have
wildcards may name one separate host instead (``notebooks.host``): sessions then
live under ``/notebooks/<id>/`` of that host, apart from the portal but not from
each other.

Jupyter's base URL is ``/notebooks/<id>/`` in both cases (managers/notebooks/launch.py),
so the same paths lead to the same server whichever the choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.settings import Settings
from wrappers.notebooks.settings import notebook_settings

__all__ = ["NotebookOrigins", "jupyter_prefix", "session_in_path"]

_ID = "[0-9a-f]{16}"
_IN_PATH = re.compile(rf"^/notebooks/({_ID})(/|$)")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def jupyter_prefix(session_id: str) -> str:
    """Jupyter's base URL for a session, on whichever host serves it."""
    return f"/notebooks/{session_id}/"


def session_in_path(path: str) -> str | None:
    """The session id a ``/notebooks/<id>/...`` path names, or None."""
    found = _IN_PATH.match(path)
    return found.group(1) if found else None


@dataclass(frozen=True)
class NotebookOrigins:
    """The notebook origins of one portal, from its settings."""

    domain: str  # sessions at <id>.<domain> (empty in single-host mode)
    single_host: str  # every session on this one host (empty with a domain)
    scheme: str
    port: int

    @classmethod
    def of(cls, settings: Settings) -> NotebookOrigins:
        """From ``[notebooks]`` (domain or host, scheme, port) and ``public_url``."""
        config = notebook_settings(settings)
        portal = urlsplit(settings.public_url)
        scheme = config.scheme or portal.scheme
        port = config.port or portal.port or _DEFAULT_PORTS[scheme]
        return cls("" if config.host else config.domain, config.host, scheme, port)

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def per_session(self) -> bool:
        """Each session on a host of its own (the domain), not one shared host."""
        return not self.single_host

    def claims(self, host: str) -> bool:
        """Whether a request to ``host`` (a name, ``host_name``) is for a notebook
        origin, known or not: none of these ever reaches the portal itself."""
        if self.single_host:
            return host == self.single_host
        return host == self.domain or host.endswith("." + self.domain)

    def session_of(self, host: str, path: str) -> str | None:
        """The session a request is for: named by its host, or (on the one shared
        host) by its path; None when it names none."""
        if self.single_host:
            return session_in_path(path) if host == self.single_host else None
        label, dot, rest = host.partition(".")
        if dot and rest == self.domain and re.fullmatch(_ID, label):
            return label
        return None

    def host_of(self, session_id: str) -> str:
        return self.single_host or f"{session_id}.{self.domain}"

    def netloc(self, session_id: str) -> str:
        """Host and port as a browser writes them in Host and Origin (the default
        port left out), which is what Jupyter compares its Origin check with."""
        host = self.host_of(session_id)
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def origin(self, session_id: str) -> str:
        return f"{self.scheme}://{self.netloc(session_id)}"

    def url(self, session_id: str, path: str) -> str:
        """An absolute address on the session's origin (``path`` starts with /)."""
        return self.origin(session_id) + path

    def cookie_name(self, session_id: str) -> str:
        """The notebook origin's own cookie: one per host, or one per session on the
        shared host; ``__Host-`` (Secure, the whole host, no Domain) over TLS."""
        suffix = "" if self.per_session else f"-{session_id}"
        return f"__Host-onestop-nb{suffix}" if self.tls else f"onestop_nb{suffix}"

    def state_cookie_name(self, session_id: str) -> str:
        """The cookie that binds a connection's code to the browser that asked for it."""
        suffix = "" if self.per_session else f"-{session_id}"
        return f"__Host-onestop-nb-state{suffix}" if self.tls else f"onestop_nb_state{suffix}"
