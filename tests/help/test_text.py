"""Secrets out of context, Markdown in safely: the help tool's one place for each."""

from __future__ import annotations

import pytest

from wrappers.help.text import HIDDEN, markdown, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("export DB_PASSWORD=hunter2", "hunter2"),
        ("API_KEY: abc123", "abc123"),
        ('MY_TOKEN="two words"', "two words"),
        ("setenv GITHUB_TOKEN ghp_abcdef", "ghp_abcdef"),
        ("AWS_SECRET_ACCESS_KEY=AKIAXYZ", "AKIAXYZ"),
        ("mysql --password=zz9 db", "zz9"),
        ("http://node1:8888/lab?token=deadbeef&x=1", "deadbeef"),
        ("Authorization: Bearer eyJhbGciOi", "eyJhbGciOi"),
        ("export jupyter_token=feedface", "feedface"),
    ],
)
def test_secrets_are_hidden(line: str, secret: str) -> None:
    cleaned = redact(f"before\n{line}\nafter")
    assert secret not in cleaned
    assert HIDDEN in cleaned
    assert cleaned.startswith("before\n") and cleaned.endswith("\nafter")


@pytest.mark.parametrize(
    "line",
    [
        "keyboard=us",
        "monkey=ok PATH=/usr/bin",
        "#SBATCH --mem=1G",
        "Invalid token for user alice",
        "python train.py --epochs=3",
    ],
)
def test_ordinary_lines_stay(line: str) -> None:
    assert redact(line) == line


def test_markdown_has_no_raw_html_and_safe_links() -> None:
    html = str(
        markdown(
            "**bold** <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
            "[ok](https://example.org) [bad](javascript:alert(1))"
        )
    )
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html
    assert 'href="javascript:' not in html
