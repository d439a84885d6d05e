"""``create_app(settings)``: the whole web tier, built explicitly in one place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from app.access_log import AccessLogMiddleware
from app.audit import Auditor
from app.auth import routes as auth_routes
from app.auth.guard import RequireSignIn
from app.auth.oidc import OIDCClient
from app.db import REPO_ROOT, check_schema, create_engine, session_factory
from app.logs import configure_logging, get_logger
from app.notify import Mailer, NotificationStore, Notifier
from app.origins import ToolOrigins
from app.policy import load_policy
from app.policy.roles import PROJECT_JOB_VIEW
from app.readings import Readings
from app.realtime.bus import EventBus, cluster_channel, project_channel, user_channel
from app.realtime.fragments import CORE_RENDERERS, FragmentCache
from app.realtime.ws import live
from app.security import view_as
from app.security.csrf import CSRFMiddleware
from app.security.headers import SecurityHeadersMiddleware
from app.security.ratelimit import LoginRateLimiter
from app.security.sessions import SessionMiddleware, SessionStore
from app.security.view_as import ViewAs
from app.settings import Settings
from app.tools import (
    catalog_of,
    check_sections,
    discover,
    ensure_rules,
    followers_of,
    origins_of,
    provide_all,
    renderers_of,
    routes_of,
    template_folders,
)
from app.tools import running as tools_running
from app.verbs import CORE_VERBS, Services, VerbError, VerbGate
from app.verbs.services import Extensions
from app.web import admin_sessions
from app.web.dashboard import dashboard
from app.web.errors import verb_error
from app.web.templating import build_templates, job_names_of, message_page
from app.web.vendor import vendor_file
from managers.agent.client import AgentClient
from managers.agent.gateway import parse_listen
from managers.agent.remote import RemoteAgentClient
from managers.agent.tls import client_context
from managers.cluster_watcher import ClusterWatcher
from managers.hook_events import HookEvents
from managers.scheduler.slurm import SlurmAdapter

log = get_logger("onestop.app")

ERROR_WORDS = {
    404: ("Page not found", "There is nothing at this address. Check the link, or go back."),
    405: ("Not allowed", "This page cannot be used that way."),
}


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    heading, text = ERROR_WORDS.get(exc.status_code, ("Something went wrong", str(exc.detail)))
    return message_page(
        request,
        heading,
        text,
        status_code=exc.status_code,
        action_url="/",
        action_label="Go to the dashboard",
        tone="error",
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", path=request.url.path)
    response = message_page(
        request,
        "Something went wrong on our side",
        "The portal hit an unexpected problem and has logged it. Nothing you did caused "
        "this. Please try again; if it keeps happening, tell your HPC team.",
        status_code=500,
        action_url="/",
        action_label="Go to the dashboard",
        tone="error",
    )
    SecurityHeadersMiddleware(request.app, request.app.state.settings).apply(
        response.headers, request.url.path
    )
    return response


def agent_client(settings: Settings) -> AgentClient | RemoteAgentClient:
    """This node's agents over Unix sockets, or another node's through its gateway."""
    config = settings.agents
    if not config.gateway:
        return AgentClient(config.runtime_dir, timeout=config.call_timeout_seconds)
    host, port = parse_listen(config.gateway)
    context = client_context(config.tls_cert or None, config.tls_key or None, config.tls_ca)
    return RemoteAgentClient(host, port, context, timeout=config.call_timeout_seconds)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(settings: Settings) -> Starlette:
    configure_logging(settings.log_level, settings.log_json)
    # Every tool, the built-in ones too, arrives through the same entry point group.
    tools = discover(settings.disabled_tools)
    check_sections(settings, tools)
    catalog = catalog_of(CORE_VERBS, tools)
    extensions = Extensions()
    claim = origins_of(tools, settings)
    public_prefixes = tuple(prefix for tool in tools for prefix in tool.public_prefixes)
    engine = create_engine(settings.database_url)
    db_sessions = session_factory(engine)
    store = SessionStore(db_sessions, settings)
    bus = EventBus(settings.event_bus_url)

    async def publish_cluster_news(audience: str | None, payload: dict[str, Any]) -> None:
        """The watcher says who an event is for; the bus decides the channel."""
        if audience is None:
            channel = cluster_channel()
        elif audience.startswith("project:"):
            channel = project_channel(audience.removeprefix("project:"))
        else:
            channel = user_channel(audience)
        await bus.publish(channel, payload)

    scheduler = SlurmAdapter(settings.slurm.bin_dir, settings.slurm.command_timeout_seconds)
    agents = agent_client(settings)
    watcher = ClusterWatcher(
        scheduler,
        publish_cluster_news,
        interval=settings.slurm.poll_interval_seconds,
        idle_interval=settings.slurm.idle_poll_interval_seconds,
        logger=get_logger("onestop.cluster_watcher"),
    )
    notifier = Notifier(
        NotificationStore(db_sessions),
        scheduler,
        publish_cluster_news,
        Mailer(settings.mail),
        settings.public_url,
        get_logger("onestop.notify"),
        job_names=job_names_of(tools),
    )
    watcher.listeners.append(notifier.listen)

    async def purge_sessions() -> None:
        while True:
            try:
                removed = await store.purge()
                log.info("sessions_purged", removed=removed)
            except Exception:
                log.exception("sessions_purge_failed")
            await asyncio.sleep(3600)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(engine.dispose)
            stack.push_async_callback(app.state.auditor.close)
            await check_schema(engine, settings.database_url)
            policy = await load_policy(engine, settings.database_url)
            await policy.keep_rule(PROJECT_JOB_VIEW, settings.project_job_view)
            await ensure_rules(policy, tools)
            app.state.policy = policy
            services = Services(
                policy,
                agents,
                scheduler,
                watcher,
                store,
                db_sessions,
                settings,
                notifier=notifier,
                extensions=extensions,
            )
            await provide_all(services, tools)
            app.state.verbs = VerbGate(
                services,
                app.state.auditor,
                catalog,
                recent_sign_in_seconds=settings.admin_recent_login_minutes * 60,
                heavy_partition=settings.agents.heavy_partition,
            )
            stack.callback(agents.close)
            await bus.connect()
            stack.push_async_callback(bus.disconnect)
            await watcher.refresh()
            stack.push_async_callback(notifier.stop)
            jobs = [watcher.run(), purge_sessions(), notifier.run()]
            if settings.slurm.hook_events:
                hook = HookEvents(
                    settings.slurm.hook_events, watcher.poke, get_logger("onestop.slurm_hook")
                )
                jobs.append(hook.run())
            for job in jobs:
                task = asyncio.create_task(job)
                stack.push_async_callback(_stop, task)
            await stack.enter_async_context(tools_running(app, tools))
            log.info("portal_started", url=settings.public_url)
            yield

    routes = [
        Route("/", dashboard, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/vendor/{name}", vendor_file, methods=["GET"]),
        Mount("/static", StaticFiles(directory=REPO_ROOT / "static"), name="static"),
        WebSocketRoute("/ws", live),
        *auth_routes.routes,
        *admin_sessions.routes,
        *view_as.routes,
        *routes_of(tools),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware, settings=settings),
        # A tool's own hosts (each notebook session's) never reach what follows.
        *([Middleware(ToolOrigins, claim=claim)] if claim is not None else []),
        Middleware(SessionMiddleware, store=store, settings=settings),
        Middleware(AccessLogMiddleware),
        Middleware(CSRFMiddleware),
        Middleware(RequireSignIn, public_prefixes=public_prefixes),
        # A staff member's read-only view of someone's portal (after sign-in).
        Middleware(ViewAs, store=store),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        # A verb error's kind decides its status and page (app/web/errors.py).
        exception_handlers={
            HTTPException: http_error,
            VerbError: verb_error,
            Exception: server_error,
        },
    )
    app.state.settings = settings
    app.state.tools = tools
    app.state.templates = build_templates(template_folders(tools), tools)
    app.state.fragments = FragmentCache({**CORE_RENDERERS, **renderers_of(tools)})
    app.state.project_access = [t.project_access for t in tools if t.project_access]
    app.state.catch_ups = [tool.catch_up for tool in tools if tool.catch_up is not None]
    # The tools' own services (Tool.provides), filled at start; pages reach them with
    # wrappers/request.py ``own``.
    app.state.extensions = extensions
    app.state.public_prefixes = public_prefixes
    app.state.engine = engine
    app.state.db_sessions = db_sessions
    app.state.sessions = store
    app.state.auditor = Auditor(db_sessions)
    app.state.bus = bus
    app.state.watcher = watcher
    # A tool's background work follows the cluster's readings here (app/readings.py),
    # and does everything else through the gate (app.state.verbs, call_as_service).
    app.state.readings = Readings(watcher)
    # What pages may ask /ws to follow (a folder open in a tab: wrappers/files/live.py).
    app.state.followers = followers_of(tools)
    app.state.oidc = OIDCClient(settings.oidc, settings.public_url + "/auth/callback")
    app.state.login_limiter = LoginRateLimiter(settings.login_attempts_per_minute)
    # Password guesses on public links, per client address.
    app.state.link_limiter = LoginRateLimiter(10)
    return app
