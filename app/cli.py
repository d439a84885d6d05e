"""The ``onestop`` command: run the portal, upgrade its database, drive the demo cluster."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import warnings
from pathlib import Path

from app.logs import configure_logging
from app.settings import DEFAULT_CONFIG_FILE, load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.db import SchemaBehindError, check_schema, create_engine
    from app.main import create_app

    settings = load_settings()

    async def schema_current() -> None:
        engine = create_engine(settings.database_url)
        try:
            await check_schema(engine, settings.database_url)
        finally:
            await engine.dispose()

    try:  # before uvicorn starts, so the admin reads a sentence, not a traceback
        asyncio.run(schema_current())
    except SchemaBehindError as error:
        print(error, file=sys.stderr)
        return 2
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=args.host or settings.bind_host,
        port=args.port or settings.bind_port,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_config=None,
        access_log=False,  # app/access_log.py logs each request with the person's name
        # Open live connections (every tab has one) would hold a stop or restart
        # forever; they are closed after a few seconds and the browsers reconnect.
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _db(args: argparse.Namespace) -> int:
    from alembic import command

    from app.db import alembic_config

    config = alembic_config(load_settings().database_url)
    if args.action == "upgrade":
        command.upgrade(config, "head")
    elif args.action == "downgrade":
        command.downgrade(config, args.revision)
    else:
        command.current(config)
    return 0


def _devcluster(args: argparse.Namespace) -> int:
    import devcluster

    return devcluster.main([args.action])


def _people(args: argparse.Namespace) -> int:
    from app.audit import Auditor
    from app.db import create_engine, session_factory
    from app.security.sessions import SessionStore

    async def act() -> int:
        settings = load_settings()
        engine = create_engine(settings.database_url)
        try:
            sessions = session_factory(engine)
            store = SessionStore(sessions, settings)
            if args.command == "users":
                count = await store.forget_user(args.user)
            else:
                count = await store.revoke_user(args.user)
            await Auditor(sessions).record(
                actor=f"admin-cli:{getpass.getuser()}",
                action=f"{args.command}.{args.action}",
                object=args.user,
                outcome="ok",
                count=count,
            )
            return count
        finally:
            await engine.dispose()

    count = asyncio.run(act())
    if args.command == "users":
        print(f"Forgot {args.user} ({count} record); their next sign-in links them afresh.")
    else:
        print(f"Ended {count} session(s) of {args.user}.")
    return 0


def _agent_launch(args: argparse.Namespace) -> int:
    from managers.agent.launcher import LaunchRefused, launch

    if "SUDO_UID" in os.environ:
        # Run by the service account through sudo: nothing it controls may steer root.
        # Only root's own configuration file counts, never the caller's environment.
        for key in [key for key in os.environ if key.startswith("ONESTOP_")]:
            del os.environ[key]
        config = Path(DEFAULT_CONFIG_FILE)
        if config.exists():
            info = config.stat()
            if info.st_uid != 0 or info.st_mode & 0o022:
                print(
                    f"{config} must belong to root and be writable by root alone.", file=sys.stderr
                )
                return 2
    settings = load_settings()
    # A crash of the launcher's child before its exec goes into the agent's log, in
    # the same lines as the agent's own (which managers/agent/boot.py configures).
    configure_logging(settings.log_level, settings.log_json)
    agents = settings.agents
    try:
        launch(
            args.user,
            runtime_dir=agents.runtime_dir,
            log_dir=agents.log_dir,
            min_uid=settings.min_uid,
            name_pattern=agents.name_pattern,
            idle_seconds=agents.idle_seconds,
            nice=agents.nice,
            memory_limit_mb=agents.memory_limit_mb,
            heavy_limit=agents.heavy_limit,
            slurm_bin_dir=settings.slurm.bin_dir,
        )
    except LaunchRefused as error:
        print(error.message, file=sys.stderr)
        return 2
    return 0


def _agent_gateway(args: argparse.Namespace) -> int:
    from managers.agent.client import AgentClient
    from managers.agent.gateway import AgentGateway, parse_listen
    from managers.agent.tls import server_context

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        host, port = parse_listen(args.listen)
        context = server_context(args.cert, args.key, args.ca)
    except (ValueError, OSError) as error:  # ssl.SSLError is an OSError
        print(f"Cannot start the agent gateway: {error}", file=sys.stderr)
        return 2
    agents = AgentClient(settings.agents.runtime_dir, timeout=settings.agents.call_timeout_seconds)
    gateway = AgentGateway(agents, context, name_pattern=settings.agents.name_pattern)
    try:
        asyncio.run(gateway.run(host, port))
    except OSError as error:  # the address is taken or not ours to bind
        print(f"Cannot listen on {args.listen}: {error}", file=sys.stderr)
        return 2
    finally:
        agents.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    # authlib 1.9 prefers the "httpx2" fork and warns when it falls back to httpx, which
    # this project pins on purpose; the warning tells an admin nothing they can act on.
    # authlib installs an "always" filter when imported, so ours is added after it.
    import authlib.deprecate  # noqa: F401

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    parser = argparse.ArgumentParser(prog="onestop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the portal")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=_serve)

    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?", default="-1")
    db.set_defaults(func=_db)

    cluster = commands.add_parser("devcluster", help="the demo Slurm cluster on this machine")
    cluster.add_argument("action", choices=["up", "down", "status"])
    cluster.set_defaults(func=_devcluster)

    sessions = commands.add_parser("sessions", help="end a person's portal sessions")
    sessions.add_argument("action", choices=["revoke"])
    sessions.add_argument("user", help="the Unix name whose sessions end now")
    sessions.set_defaults(func=_people)

    users = commands.add_parser("users", help="the portal's record of a person")
    users.add_argument("action", choices=["forget"])
    users.add_argument("user", help="the Unix name whose campus identity link is removed")
    users.set_defaults(func=_people)

    launcher = commands.add_parser(
        "agent-launch", help="(root only) start a person's agent; run by the portal via sudo"
    )
    launcher.add_argument("user", help="the Unix name whose agent to start")
    launcher.set_defaults(func=_agent_launch)

    gateway = commands.add_parser(
        "agent-gateway",
        help="serve this node's agents to other login nodes over TLS with client certificates",
    )
    gateway.add_argument("--listen", required=True, help="HOST:PORT, such as 127.0.0.1:7443")
    gateway.add_argument("--cert", required=True, help="this node's certificate (PEM)")
    gateway.add_argument("--key", required=True, help="the certificate's private key (PEM)")
    gateway.add_argument("--ca", required=True, help="the CA whose client certificates are let in")
    gateway.set_defaults(func=_agent_gateway)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
