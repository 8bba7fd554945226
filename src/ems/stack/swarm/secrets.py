"""The stack's secrets: generated once, kept in <data_dir>/swarm/secrets (mode 600), handed
to `docker stack deploy` as files (deploy/swarm/stack.yaml, `secrets:`).

Which service gets which secret follows the service specs: every service its own broker URL
(`amqp_url_<service>`), every service with a database its own database URL
(`pg_url_<service>`) on its own PostgreSQL, whose password is `db_password_<database>`.
This module is the one place that decides broker logins and passwords.

INTERIM, until per-service broker users land (`ems broker ...`): every service logs in to
the broker as one user, `ems`, with every permission on the `ems` vhost; only the meters
have their own least-privilege user, `meter`. The definitions secret (topology from
deploy/rabbitmq/definitions.json plus these users, with salted SHA-256 password hashes) is
written here; the per-service users and their definitions file will come from `ems broker`
instead, and `BROKER_LOGINS` below becomes one login per service.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ems.common.credentials import GATEWAY, derive_secret
from ems.common.registry import ServiceSpec

VHOST = "ems"
DB_USER = "ems"
# The broker user every service logs in as (INTERIM, see above) and the meters' user.
SERVICE_BROKER_USER = "ems"
METER_USER = "meter"
# Meters may publish readings to ems.data, with the readings' routing keys, and nothing else.
METER_EXCHANGE = "ems.data"
METER_WRITE = r"^ems\.data$"
METER_ROUTING_KEYS = r"^device\.[^.]+\.reading$"
# Files of the secrets folder an operator (and the swarm test) reads the logins from.
ADMIN_PASSWORD_FILE = "admin_password"
METER_PASSWORD_FILE = f"broker_password_{METER_USER}"


@dataclass(frozen=True)
class Logins:
    """What an operator (and the swarm test) needs to log in."""

    admin_username: str
    admin_password: str
    meter_password: str
    folder: Path


class SecretFiles:
    """The secrets folder: each secret one file, created once and kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, name: str, given: str | None = None) -> str:
        """The stored value; `given` replaces it when set; else a new random one."""
        path = self.folder / name
        if given:
            self.put(name, given)
            return given
        if path.is_file():
            return path.read_text()
        value = secrets.token_urlsafe(24)
        self.put(name, value)
        return value

    def put(self, name: str, value: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        path = self.folder / name
        if path.is_file() and path.read_text() == value:
            return
        # Created private, then written: the value is never readable by others.
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(value)

    def version(self) -> str:
        """A digest of every secret: the suffix of their names in the swarm."""
        digest = hashlib.sha256()
        for path in sorted(self.folder.iterdir()):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:12]


def write_secrets(
    folder: Path,
    specs: list[ServiceSpec],
    topology: dict[str, Any],
    admin_username: str,
    admin_password: str | None,
    meter_password: str | None,
) -> Logins:
    """Every secret the stack names, written into `folder`."""
    files = SecretFiles(folder)
    broker_password = files.get(f"broker_password_{SERVICE_BROKER_USER}")
    meter = files.get(METER_PASSWORD_FILE, meter_password)
    for spec in specs:
        files.put(f"amqp_url_{spec.name}", amqp_url(SERVICE_BROKER_USER, broker_password))
        database = spec.load_settings_class().database_name
        if spec.migrations and database:
            password = files.get(f"db_password_{database}")
            files.put(f"pg_url_{spec.name}", f"postgresql://{DB_USER}:{password}@{database}:5432")
    # Service credentials (ems.common.credentials): the master key for auth, every other
    # service with routes (and the gateway) its own secret derived from it.
    master = files.get("service_master_key")
    for name in [s.name for s in specs if s.routes and s.name != "auth"] + [GATEWAY]:
        files.put(f"service_secret_{name}", derive_secret(master, name))
    admin = files.get(ADMIN_PASSWORD_FILE, admin_password)
    definitions = broker_definitions(
        topology,
        {SERVICE_BROKER_USER: broker_password, METER_USER: meter},
        _stored_hashes(folder / "broker_definitions"),
    )
    files.put("broker_definitions", json.dumps(definitions, indent=1) + "\n")
    return Logins(admin_username, admin, meter, folder)


def amqp_url(user: str, password: str) -> str:
    # A vanished peer is noticed within ~2 heartbeats.
    return f"amqp://{user}:{password}@rabbitmq:5672/{VHOST}?heartbeat=15"


def broker_definitions(
    topology: dict[str, Any], passwords: dict[str, str], stored: dict[str, str] | None = None
) -> dict[str, Any]:
    """RabbitMQ definitions: the topology plus the users and their permissions (INTERIM).

    A stored hash that still matches its password is kept: the same passwords give the
    same file, so an unchanged deployment is not rolled for a new salt."""
    stored = stored or {}
    users = [
        {
            "name": name,
            "password_hash": _same_or_new_hash(password, stored.get(name)),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": [],
        }
        for name, password in passwords.items()
    ]
    permissions = [
        {
            "user": SERVICE_BROKER_USER,
            "vhost": VHOST,
            "configure": ".*",
            "write": ".*",
            "read": ".*",
        },
        {"user": METER_USER, "vhost": VHOST, "configure": "^$", "write": METER_WRITE, "read": "^$"},
    ]
    topic_permissions = [
        {
            "user": METER_USER,
            "vhost": VHOST,
            "exchange": METER_EXCHANGE,
            "write": METER_ROUTING_KEYS,
            "read": "^$",
        },
    ]
    return {
        **topology,
        "users": users,
        "permissions": permissions,
        "topic_permissions": topic_permissions,
    }


def rabbit_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's salted SHA-256 (rabbit_password_hashing_sha256), as definitions carry it."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def _same_or_new_hash(password: str, stored: str | None) -> str:
    if stored:
        salt = base64.b64decode(stored)[:4]
        if rabbit_password_hash(password, salt) == stored:
            return stored
    return rabbit_password_hash(password)


def _stored_hashes(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    users = json.loads(path.read_text()).get("users", [])
    return {user["name"]: user["password_hash"] for user in users}
