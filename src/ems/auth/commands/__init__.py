"""`ems create-admin`: more admins from the command line; `ems ensure-admin`: the first one,
from the settings, for deployments that run no `ems up` (Compose, Swarm); `ems service-secret
NAME`: the secret of one service (or of the gateway), derived from auth's master key."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from typing import Any

from ems.auth.commands.first_admin import ensure_admin
from ems.auth.security.passwords import Passwords
from ems.auth.service import create_credential
from ems.auth.settings import AuthSettings
from ems.common.credentials import SERVICE_NAME, derive_secret, master_key
from ems.common.db import Database
from ems.common.errors import ApiError


def register_commands(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("create-admin", help="create an admin login")
    parser.add_argument("username")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    parser.set_defaults(func=_create_admin)
    secret = sub.add_parser(
        "service-secret",
        help="print a service's EMS_SERVICE_SECRET (derived from EMS_SERVICE_MASTER_KEY)",
    )
    secret.add_argument("name", help="a service's name, or `gateway`")
    secret.set_defaults(func=_service_secret)
    ensure: argparse.ArgumentParser = sub.add_parser(
        "ensure-admin",
        help="create the first admin from EMS_ADMIN_USERNAME / EMS_ADMIN_PASSWORD unless "
        "an admin exists (idempotent)",
    )
    ensure.set_defaults(func=_ensure_admin)


def _service_secret(args: argparse.Namespace) -> int:
    if not SERVICE_NAME.match(args.name):
        print("a service name is lower-case letters, digits and dashes")
        return 1
    settings = AuthSettings()
    print(derive_secret(master_key(settings, settings.service_master_key), args.name))
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = input().strip()
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ")
            return 1
    if len(password) < 8:
        print("the password needs at least 8 characters")
        return 1
    try:
        asyncio.run(_create(AuthSettings(), args.username, password))
    except ApiError as exc:
        print(exc.message)
        return 1
    print(f"admin {args.username.lower()} created")
    return 0


def _ensure_admin(args: argparse.Namespace) -> int:
    try:
        admin = asyncio.run(ensure_admin(AuthSettings()))
    except ValueError as exc:
        print(exc)
        return 1
    if admin.created and admin.stored_in is not None:
        print(f"admin {admin.username} created; its password is in {admin.stored_in}")
    else:
        print(f"admin {admin.username} {'created' if admin.created else 'exists'}")
    return 0


async def _create(settings: AuthSettings, username: str, password: str) -> None:
    db = Database(settings.dsn(), pool_size=1)
    try:
        await create_credential(
            db, Passwords(settings), username=username, password=password, role="ADMIN"
        )
    finally:
        await db.dispose()
