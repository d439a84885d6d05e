from __future__ import annotations

import pytest

from app.auth.next_url import safe_next
from tests.app.test_signin_http import OPEN_REDIRECTS


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_foreign_targets_become_the_dashboard(target: str) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/jobs", "/files/chem/a%20b.txt", "/?tab=2#x"])
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


def test_empty_and_overlong_values_fall_back() -> None:
    assert safe_next(None) == "/"
    assert safe_next("") == "/"
    assert safe_next("/" + "a" * 5000) == "/"
