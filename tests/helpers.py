"""What many tests share: sign-in through the real identity provider's form (without
a browser), the job form, waiting for a condition, and what an agent is watching."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from websockets.typing import Origin

from app.verbs import Services, VerbGate
from managers.agent.client import AgentClient

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


@contextlib.contextmanager
def signed_in(portal_url: str, who: str) -> Iterator[httpx.Client]:
    """A client signed in as ``who`` through the provider's form, closed afterwards."""
    with new_client() as client:
        assert sign_in(client, portal_url, who).status_code == 303
        yield client


T = TypeVar("T")


def wait_until(check: Callable[[], T], seconds: float = 60, every: float = 0.2) -> T:
    """Call ``check`` every ``every`` seconds until it returns something true, and
    return that; an AssertionError with its last answer after ``seconds``.
    ``check`` may raise to give up at once (a process that died, say)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still {result!r} after {seconds:g} s: {check}")
        time.sleep(every)


async def wait_until_async(
    check: Callable[[], Awaitable[T]], seconds: float = 60, every: float = 0.2
) -> T:
    """``wait_until`` for a coroutine ``check``, sleeping without blocking the loop."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still {result!r} after {seconds:g} s: {check}")
        await asyncio.sleep(every)


def inotify_watches(folder: Path, pids: Iterable[int] | None = None) -> int:
    """How many inotify watches processes (``pids``, or all) hold on ``folder``: the
    sign that an agent's ``files.watch`` is set up, so a change made now is seen."""
    info = folder.stat()
    wanted = f"ino:{info.st_ino:x} sdev:{os.major(info.st_dev) << 20 | os.minor(info.st_dev):x} "
    found = 0
    for pid in pids if pids is not None else (int(p) for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                        found += Path(f"/proc/{pid}/fdinfo/{fd}").read_text().count(wanted)
    return found


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


def squeue(job_id: str, fields: str = "%u %T %j") -> str:
    """What Slurm itself says about a job (empty once it has left the queue)."""
    return subprocess.run(
        ["squeue", "--noheader", "--states=all", f"--format={fields}", "--jobs", job_id],
        capture_output=True,
        text=True,
        check=False,
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


@dataclass
class LocalGate:
    """A verb gate in the test's own process, built as create_app builds it: real
    Casbin on ``url``'s database, the given agents, real Slurm, every installed tool."""

    gate: VerbGate
    services: Services
    engine: AsyncEngine
    database: async_sessionmaker[AsyncSession]

    async def close(self) -> None:
        await self.gate.auditor.close()
        await self.engine.dispose()


async def local_gate(
    url: str,
    agents: AgentClient,
    publish: Callable[[str | None, dict[str, Any]], Awaitable[None]] | None = None,
    disabled: tuple[str, ...] = (),
) -> LocalGate:
    """``publish`` receives what the watcher and the notifier would put on the bus;
    ``disabled`` tools are left out, as ``disabled_tools`` does."""
    from alembic import command

    from app.audit import Auditor
    from app.db import alembic_config, create_engine, session_factory
    from app.logs import get_logger
    from app.notify import Mailer, NotificationStore, Notifier
    from app.policy import load_policy
    from app.security.sessions import SessionStore
    from app.settings import load_settings
    from app.tools import discover, ensure_rules, open_gate
    from managers.cluster_watcher import ClusterWatcher
    from managers.scheduler.slurm import SlurmAdapter

    async def ignore(audience: str | None, payload: dict[str, Any]) -> None:
        return None

    publish = publish or ignore
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(url)
    database = session_factory(engine)
    policy = await load_policy(engine, url)
    settings = load_settings(database_url=url)
    scheduler = SlurmAdapter()
    watcher = ClusterWatcher(scheduler, publish)
    await watcher.refresh()
    notifier = Notifier(
        NotificationStore(database),
        scheduler,
        publish,
        Mailer(settings.mail),
        settings.public_url,
        get_logger("tests.notify"),
    )
    services = Services(
        policy,
        agents,
        scheduler,
        watcher,
        SessionStore(database, settings),
        database,
        settings,
        notifier=notifier,
    )
    tools = built_in(discover(disabled))
    await ensure_rules(policy, tools)
    gate = await open_gate(services, Auditor(database), tools)
    return LocalGate(gate, services, engine, database)


def portal_templates() -> Any:
    """The Jinja templates a portal with every installed tool renders with."""
    from app.tools import discover, template_folders
    from app.web.templating import build_templates

    tools = discover()
    return build_templates(template_folders(tools), tools)


def portal_renderers() -> dict[str, Any]:
    """Every live-event renderer of such a portal, the core's and the tools'."""
    from app.realtime.fragments import CORE_RENDERERS
    from app.tools import discover, renderers_of

    return {**CORE_RENDERERS, **renderers_of(discover())}


def built_in(tools: list[Any]) -> list[Any]:
    """Only the tools this repository ships (wrappers/): a test of the built-in set
    is not changed by the example tool that tests/tools installs for a while."""
    return [tool for tool in tools if _shipped(tool)]


def _shipped(tool: Any) -> bool:
    from importlib.metadata import entry_points

    from app.tools import ENTRY_POINT_GROUP

    entry = next(e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == tool.name)
    return entry.module.startswith("wrappers.")


def portal_socket(portal_url: str, cookie: str, name: str = "onestop_session") -> Any:
    """The portal's /ws as a browser holding that session opens it (its Origin, its
    cookie); ``async with`` it."""
    return websockets.connect(
        portal_url.replace("http", "ws") + "/ws",
        origin=Origin(portal_url),
        additional_headers={"Cookie": f"{name}={cookie}"},
        max_size=None,
    )
