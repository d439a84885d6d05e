"""The matcher functions of the model: anchored object patterns and action regexes.

Casbin's ``keyMatch`` family treats ``/files/alice*`` as a prefix, so a rule for
alice also covers ``/files/alice2``, and it does not understand ``..``. Ours is
anchored to the whole string and works in whole path segments:

- ``*`` stands for exactly one segment (one or more characters, no ``/``);
- ``/**`` stands for zero or more whole segments (so ``/a/**`` covers ``/a`` and
  ``/a/b/c`` but not ``/ab``), ``**/`` at the start likewise, and a value of just
  ``**`` covers any value; the root ``/`` counts as zero segments of ``/**``;
- ``{sub}`` and ``{dom}`` become the request's subject and domain, literally; a
  request in domain ``*`` (no project) never matches a ``{dom}`` pattern;
- everything else is literal. A whole pattern of ``**`` covers every object.

Requests are canonical (see canonical.py) before they get here; patterns are compiled
once per (pattern, subject, domain) and cached.
"""

from __future__ import annotations

import re
from functools import lru_cache

from app.policy.canonical import ANY_DOMAIN

_TOKENS = re.compile(r"/\*\*(?=/|$)|^\*\*/|\*\*|\*|\{sub\}|\{dom\}")
_SEGMENT = "[^/]+"
_NOTHING = "(?!)"


class PatternError(ValueError):
    """A policy pattern this module cannot read; such a rule matches nothing."""


def _translate_value(pattern: str, subject: str, domain: str) -> str:
    if pattern == "**":
        return ".*"
    if pattern == "/**":
        return f"/(?:{_SEGMENT}(?:/{_SEGMENT})*)?"
    parts: list[str] = []
    position = 0
    for token in _TOKENS.finditer(pattern):
        parts.append(re.escape(pattern[position : token.start()]))
        text = token.group()
        if text == "/**":
            parts.append(f"(?:/{_SEGMENT})*")
        elif text == "**/":
            parts.append(f"(?:{_SEGMENT}/)*")
        elif text == "**":
            raise PatternError(f"'**' must stand for whole segments in {pattern!r}")
        elif text == "*":
            parts.append(_SEGMENT)
        elif text == "{sub}":
            parts.append(re.escape(subject))
        else:
            parts.append(_NOTHING if domain == ANY_DOMAIN else re.escape(domain))
        position = token.end()
    parts.append(re.escape(pattern[position:]))
    return "".join(parts)


@lru_cache(maxsize=4096)
def compile_object_pattern(pattern: str, subject: str = "", domain: str = "") -> re.Pattern[str]:
    """The anchored regex for an object pattern, or PatternError if it is malformed."""
    if pattern == "**":
        return re.compile(".+", re.DOTALL)
    kind, sep, value = pattern.partition(":")
    if not sep or not kind or any(char in kind for char in "*{}"):
        raise PatternError(f"{pattern!r} is not 'kind:value' or '**'")
    return re.compile(re.escape(kind) + ":" + _translate_value(value, subject, domain), re.DOTALL)


def object_match(obj: str, pattern: str, subject: str, domain: str) -> bool:
    """``objectMatch(r.obj, p.obj, r.sub, r.dom)``: whole-string match; bad patterns deny."""
    try:
        regex = compile_object_pattern(pattern, subject, domain)
    except PatternError:
        return False
    return regex.fullmatch(obj) is not None


@lru_cache(maxsize=1024)
def compile_action_pattern(pattern: str) -> re.Pattern[str]:
    """The regex of an action pattern such as ``(read|list|stat)``; re.error if malformed."""
    return re.compile(pattern)


def action_match(action: str, pattern: str) -> bool:
    """``actionMatch(r.act, p.act)``: a full match, never a substring; bad patterns deny."""
    try:
        regex = compile_action_pattern(pattern)
    except re.error:
        return False
    return regex.fullmatch(action) is not None


def domain_match(request_domain: str, stored_domain: str) -> bool:
    """Which stored role assignments count in a request's domain (casbin calls it for ``g``).

    An assignment in ``*`` counts in every domain; one in a project only in that
    project. A request in ``*`` therefore sees only ``*`` assignments.
    """
    return stored_domain in (ANY_DOMAIN, request_domain)


def check_pattern(obj_pattern: str, action_pattern: str) -> None:
    """Raise PatternError unless both patterns of a rule compile."""
    compile_object_pattern(obj_pattern, "x", "x")
    try:
        compile_action_pattern(action_pattern)
    except re.error as error:
        raise PatternError(f"{action_pattern!r} is not a valid action pattern: {error}") from None
