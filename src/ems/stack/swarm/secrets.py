"""The stack's secrets: generated once, kept in <data_dir>/swarm/secrets (mode 600), handed
to `docker stack deploy` as files (deploy/swarm/stack.yaml, `secrets:`).

Which service gets which secret follows the service specs: every service its own broker
password (`broker_password_<service>`: each logs in to the broker as itself, with the
permissions of the topology table), every service with a database its own database URL
(`pg_url_<service>`) on its own PostgreSQL, whose password is `db_password_<database>`.
The meters' password (`broker_password_meter`) goes to whoever runs meters. The definitions
secret (the topology, every identity's user with its salted SHA-256 hash, and its
permissions: `ems.common.messaging.definitions`) is written here; RabbitMQ loads it at boot.
This module is the one place that decides broker passwords.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ems.common.credentials import GATEWAY, derive_secret
from ems.common.messaging.definitions import broker_definitions, stored_hashes
from ems.common.messaging.topology import IDENTITIES, METER
from ems.common.registry import ServiceSpec

VHOST = "ems"
DB_USER = "ems"
# Files of the secrets folder an operator (and the swarm test) reads the logins from.
ADMIN_PASSWORD_FILE = "admin_password"
METER_PASSWORD_FILE = f"broker_password_{METER}"


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
    admin_username: str,
    admin_password: str | None,
    meter_password: str | None,
) -> Logins:
    """Every secret the stack names, written into `folder`."""
    files = SecretFiles(folder)
    passwords = {
        identity: files.get(
            f"broker_password_{identity}", meter_password if identity == METER else None
        )
        for identity in IDENTITIES
    }
    for spec in specs:
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
    earlier = folder / "broker_definitions"
    stored = stored_hashes(json.loads(earlier.read_text())) if earlier.is_file() else {}
    # A stored hash of an unchanged password is kept: the same passwords give the same
    # file, so an unchanged deployment is not rolled for a new salt.
    definitions = broker_definitions(VHOST, "", passwords, stored)
    files.put("broker_definitions", json.dumps(definitions, indent=1) + "\n")
    return Logins(admin_username, admin, passwords[METER], folder)
