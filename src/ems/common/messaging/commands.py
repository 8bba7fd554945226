"""`ems broker ...`: set a broker up for the platform, or write its definitions file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ems.common.messaging.credentials import ensure_passwords, vhost_of
from ems.common.messaging.definitions import broker_definitions
from ems.common.messaging.provision import BrokerTools, ProvisionError
from ems.common.messaging.topology import IDENTITIES
from ems.common.settings import CommonSettings


def register_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    broker = sub.add_parser("broker", help="set up the broker: vhost, users, permissions")
    commands = broker.add_subparsers(title="broker commands")

    provision = commands.add_parser(
        "provision",
        help="on this machine's broker (root): plugin, size limit, vhost, topology, users",
    )
    provision.add_argument("--vhost", help="default: the vhost of EMS_AMQP_URL")
    provision.set_defaults(func=_provision)

    definitions = commands.add_parser(
        "definitions",
        help="write RabbitMQ definitions (load_definitions) with users and password hashes",
    )
    definitions.add_argument("--vhost", help="default: the vhost of EMS_AMQP_URL")
    definitions.add_argument(
        "--password-dir",
        type=Path,
        help="one file per identity (auth, users, ..., meter) holding its password, e.g. "
        "Docker secrets; EMS_BROKER_PASSWORD_<IDENTITY> overrides a file. Default: the "
        "development secrets folder, where missing passwords are generated",
    )
    definitions.add_argument("--without-users", action="store_true", help="topology only")
    definitions.add_argument("-o", "--output", type=Path, help="default: standard output")
    definitions.set_defaults(func=_definitions)


def _passwords(settings: CommonSettings, folder: Path | None) -> dict[str, str]:
    """EMS_BROKER_PASSWORD_<IDENTITY> first, then the files of `folder`; without a folder,
    the development secrets folder, where the missing ones are generated."""
    passwords = {
        identity: os.environ[f"EMS_BROKER_PASSWORD_{identity.upper()}"]
        for identity in IDENTITIES
        if os.environ.get(f"EMS_BROKER_PASSWORD_{identity.upper()}")
    }
    rest = tuple(i for i in IDENTITIES if i not in passwords)
    if rest and folder is None:
        passwords |= ensure_passwords(settings.secrets_dir(), rest)
    elif rest and folder is not None:
        for identity in rest:
            path = folder / identity
            if path.exists():
                passwords[identity] = path.read_text().strip()
    missing = [i for i in IDENTITIES if not passwords.get(i)]
    if missing:
        raise SystemExit(f"ems broker: no password for {', '.join(missing)}")
    return passwords


def _provision(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    why_not = BrokerTools.available()
    if why_not is not None:
        print(f"ems broker provision: {why_not}", file=sys.stderr)
        return 1
    vhost = args.vhost or vhost_of(settings.amqp_url)
    try:
        BrokerTools().provision(vhost, settings.broker_user_prefix, _passwords(settings, None))
    except ProvisionError as exc:
        print(f"ems broker provision: {exc}", file=sys.stderr)
        return 1
    print(f"provisioned vhost {vhost!r}; passwords in {settings.secrets_dir()}")
    return 0


def _definitions(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    vhost = args.vhost or vhost_of(settings.amqp_url)
    passwords = None if args.without_users else _passwords(settings, args.password_dir)
    text = json.dumps(broker_definitions(vhost, settings.broker_user_prefix, passwords), indent=1)
    if args.output is None:
        print(text)
    else:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
    return 0
