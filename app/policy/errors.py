"""The one error type of the policy layer.

Malformed input (a relative path, a control character, an unknown role) is refused
before Casbin sees it, with a sentence a page can show as it is. The verb gate maps
this error to a denial; it is never a reason to allow anything.
"""

from __future__ import annotations


class PolicyInputError(ValueError):
    """A subject, domain, object, action or role the policy layer refuses to judge."""
