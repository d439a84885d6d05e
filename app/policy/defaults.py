"""The model file and the default rules shipped with the portal.

The default rules are read from ``default_policy.csv`` (Casbin's own line format)
and checked here, so a typo in a pattern fails at start, not as a silent denial.
"""

from __future__ import annotations

from pathlib import Path

from app.policy.canonical import check_domain
from app.policy.matching import check_pattern
from app.policy.roles import check_rule_subject

HERE = Path(__file__).resolve().parent
MODEL_PATH = HERE / "model.conf"
DEFAULT_POLICY_PATH = HERE / "default_policy.csv"


def parse_rules(text: str, source: str = "policy") -> list[list[str]]:
    """The ``p`` rows of a policy file as ``[role, domain, object, action]`` lists.

    Raises ValueError naming the line when a row is not a well-formed ``p`` rule
    for a known role or a service principal (``service:<name>``).
    """
    rules: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")]
        try:
            if len(fields) != 5 or fields[0] != "p":
                raise ValueError("expected 'p, role, domain, object, action'")
            _, role, domain, obj, action = fields
            check_rule_subject(role)
            check_domain(domain)
            check_pattern(obj, action)
        except ValueError as error:  # PolicyInputError and PatternError too
            raise ValueError(f"{source} line {number}: {error}") from None
        rules.append(fields[1:])
    return rules


def default_rules() -> list[list[str]]:
    """The shipped default rules (read from disk; called once at start)."""
    return parse_rules(DEFAULT_POLICY_PATH.read_text(), str(DEFAULT_POLICY_PATH))
