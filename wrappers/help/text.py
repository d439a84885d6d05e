"""What a ticket's words go through: secrets taken out, Markdown rendered safely.

Secrets are taken out of every section of context before it is stored (and before
the form shows it): environment variables named like passwords, tokens, secrets or
keys (``export DB_PASSWORD=...``, ``API_KEY: ...``), ``--password=...`` options and
``token=`` in addresses (a notebook server's log prints its URL with its token).
This is the one place that decides, so no tool's page context can leak one.

Markdown is rendered with markdown-it-py's CommonMark preset with raw HTML off
(typed ``<script>`` stays text), its own check of link schemes (no ``javascript:``),
and every link opening apart from the portal (``rel="noopener noreferrer"``).
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["HIDDEN", "markdown", "redact"]

HIDDEN = "[hidden]"
# A name whose words say secret: DB_PASSWORD, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY,
# API_KEY (but not KEYBOARD or MONKEY: KEY, PASS and PWD only as whole words).
_SENSITIVE_NAME = (
    r"(?:[A-Za-z0-9_]*(?:PASSWORD|PASSWD|TOKEN|SECRET)"
    r"|(?:[A-Za-z0-9]+_)*(?:KEY|PASS|PWD|CREDENTIALS?))(?:_[A-Za-z0-9]+)*"
)
_VALUE = r"(\"[^\"]*\"|'[^']*'|\S+)"
# NAME=value, NAME: value, export NAME=value (the name in any case).
_ASSIGNMENT = re.compile(rf"(?i)(\b(?:export\s+)?{_SENSITIVE_NAME}\b\s*[=:]\s*){_VALUE}")
_SETENV = re.compile(rf"(?i)(\bsetenv\s+{_SENSITIVE_NAME}\s+){_VALUE}")
_OPTION = re.compile(r"(?i)(--?[a-z-]*(?:password|passwd|token|secret|key)[a-z-]*[=\s]\s*)(\S+)")
_QUERY = re.compile(
    r"(?i)([?&;](?:token|access_token|key|secret|password|sig|signature)=)([^&\s#\"']+)"
)
_BEARER = re.compile(r"(?i)(\bAuthorization:\s*(?:Bearer|Basic|token)\s+)(\S+)")


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``[hidden]``."""
    for pattern in (_BEARER, _QUERY, _OPTION, _SETENV, _ASSIGNMENT):
        text = pattern.sub(lambda m: m.group(1) + HIDDEN, text)
    return text


def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


_MD = _md()


def markdown(text: str) -> Markup:
    """Safe HTML of ``text`` for a template (raw HTML in it is shown as text)."""
    # Safe by construction: markdown-it escapes every character of her text, and
    # raw HTML is off (tests/help/test_text.py types <script> and checks).
    return Markup(_MD.render(text))  # noqa: S704
