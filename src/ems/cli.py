"""The `ems` command line: run the stack, one service, migrations, admin accounts."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from ems.common.registry import service_spec, service_specs


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    result = args.func(args)
    return int(result or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ems", description="EMS — Energy Management System")
    sub = parser.add_subparsers(title="commands")

    up = sub.add_parser("up", help="start the whole platform locally (gateway, services, demo)")
    up.add_argument("--no-demo", action="store_true", help="do not start the demo simulator")
    up.set_defaults(func=_up)

    swarm = sub.add_parser(
        "swarm", help="the platform on Docker Swarm on this machine (make swarm-up / swarm-down)"
    )
    swarm.add_argument("action", choices=["up", "down", "status"])
    swarm.set_defaults(func=_swarm)

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=[s.name for s in service_specs()])
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--instance", type=int, default=None, help="replica index (0-based)")
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="create the databases and run every migration")
    migrate.add_argument("services", nargs="*", help="only these services (default: all)")
    migrate.set_defaults(func=_migrate)

    revision = sub.add_parser("makemigrations", help="autogenerate a migration (developers)")
    revision.add_argument("service")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(func=_makemigrations)

    from ems.common.messaging.commands import register_commands

    register_commands(sub)
    for spec in service_specs():
        for command in spec.commands:
            module, _, attr = command.partition(":")
            getattr(importlib.import_module(module), attr)(sub)
    return parser


def _up(args: argparse.Namespace) -> int:
    from ems.stack.runner import run_stack

    return run_stack(demo=not args.no_demo)


def _swarm(args: argparse.Namespace) -> int:
    from ems.stack.swarm.commands import run

    return run(args.action)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ems.common.logs import configure_logging

    spec = service_spec(args.service)
    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.instance is not None:
        overrides["instance"] = args.instance
    settings = spec.load_settings_class()(**overrides)
    port = settings.port or spec.port + settings.instance
    configure_logging(settings, service=f"{spec.name}-{settings.instance}")
    app = spec.build_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        lifespan="on",
        # A service may tune its server (realtime: the WebSocket implementation, limits).
        **getattr(settings, "uvicorn_options", dict)(),
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from ems.common.migrations import migrate_service

    wanted = set(args.services)
    for spec in service_specs():
        if spec.migrations and (not wanted or spec.name in wanted):
            settings = spec.load_settings_class()()
            asyncio.run(migrate_service(spec, settings))
            print(f"migrated {spec.name} ({settings.full_database_name()})")
    return 0


def _makemigrations(args: argparse.Namespace) -> int:
    from ems.common.migrations import make_revision

    spec = service_spec(args.service)
    asyncio.run(make_revision(spec, spec.load_settings_class()(), args.message))
    return 0


if __name__ == "__main__":
    sys.exit(main())
