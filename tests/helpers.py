"""Sign-in through the real identity provider's form, without a browser."""

from __future__ import annotations

import re
import subprocess
from html import unescape
from urllib.parse import urljoin

import httpx

FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')

# What every log line of the portal, the agent gateway and each agent says
# (managers/logs.py configures all three).
LOG_KEYS = frozenset({"timestamp", "level", "event", "logger"})


def submit_login_form(client: httpx.Client, page: httpx.Response, username: str) -> str:
    """Fill the provider's sign-in page; return the callback URL it sends the browser to."""
    match = FORM_ACTION.search(page.text)
    assert match, f"no sign-in form at {page.url}:\n{page.text[:500]}"
    action = urljoin(str(page.url), unescape(match.group(1)))
    response = client.post(action, data={"username": username, "password": "demo"})
    while response.is_redirect:
        target = urljoin(str(response.url), response.headers["location"])
        if "/auth/callback" in target:
            return target
        response = client.get(target)
    raise AssertionError(f"the provider did not redirect back: {response.status_code}")


def callback_url(client: httpx.Client, portal_url: str, username: str, next_url: str = "/") -> str:
    """Start a sign-in at the portal and return the provider's callback URL, unredeemed."""
    start = client.get(f"{portal_url}/login", params={"next": next_url})
    assert start.is_redirect, start.text
    page = client.get(start.headers["location"], follow_redirects=True)
    return submit_login_form(client, page, username)


def sign_in(
    client: httpx.Client, portal_url: str, username: str, next_url: str = "/"
) -> httpx.Response:
    """A full sign-in; returns the portal's answer to the callback (a redirect when it worked)."""
    return client.get(callback_url(client, portal_url, username, next_url))


def new_client() -> httpx.Client:
    return httpx.Client(follow_redirects=False, timeout=20)


def submit_as(user: str, *options: str) -> str:
    """A job submitted by ``user`` straight to Slurm, outside the portal."""
    return subprocess.run(
        [
            "runuser",
            "-u",
            user,
            "--",
            "sbatch",
            "--parsable",
            f"--chdir=/home/{user}",
            "--output=/dev/null",
            *options,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


FORM_TOKENS = re.compile(r'name="(csrf_token|token)" value="([^"]*)"')


def job_form(client: httpx.Client, portal_url: str, script: str, **fields: str) -> dict[str, str]:
    """The submission form as a browser would send it: its CSRF and one-time tokens,
    small resources on ``debug``, and ``fields`` over those."""
    page = client.get(f"{portal_url}/jobs/new")
    assert page.status_code == 200, page.text[:300]
    tokens = dict(FORM_TOKENS.findall(page.text))
    assert {"csrf_token", "token"} <= tokens.keys(), "the form has no tokens"
    return {
        **tokens,
        "name": "",
        "partition": "debug",
        "time_minutes": "5",
        "nodes": "1",
        "ntasks": "1",
        "cpus_per_task": "1",
        "memory_mb": "0",
        "workdir": "",
        "script": script,
        "mail_on_end": "",
        "array": "",
        **fields,
    }


def post_job(client: httpx.Client, portal_url: str, form: dict[str, str]) -> str:
    """Send the form; return the job id the portal redirected to."""
    answer = client.post(f"{portal_url}/jobs/new", data=form)
    assert answer.status_code == 303, answer.text[:2000]
    return str(answer.headers["location"]).rsplit("/", 1)[-1]
