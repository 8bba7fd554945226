"""Broker logins: one per identity, with the password from the environment (production) or
from the secrets folder that provisioning fills (development and tests)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ems.common.settings import CommonSettings


class MissingBrokerPassword(RuntimeError):
    """No password is known for an identity: the broker was not provisioned."""


def login_name(settings: CommonSettings, identity: str) -> str:
    return f"{settings.broker_user_prefix}{identity}"


def password_of(settings: CommonSettings, identity: str) -> str:
    """This process's password for `identity`."""
    if settings.broker_password:
        return settings.broker_password
    if settings.broker_password_file is not None:
        return settings.broker_password_file.read_text().strip()
    stored = settings.secrets_dir() / identity
    try:
        return stored.read_text().strip()
    except FileNotFoundError:
        raise MissingBrokerPassword(
            f"no broker password for {identity!r}: set EMS_BROKER_PASSWORD, or provision the "
            f"broker (`ems broker provision`, or `ems up`) to create {stored}"
        ) from None


def connection_url(settings: CommonSettings, identity: str) -> str:
    """`amqp_url` with the identity's login in it (whatever credentials it held)."""
    parts = urlsplit(settings.amqp_url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    user = quote(login_name(settings, identity), safe="")
    password = quote(password_of(settings, identity), safe="")
    return urlunsplit(
        (parts.scheme or "amqp", f"{user}:{password}@{netloc}", parts.path, parts.query, "")
    )


def vhost_of(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def ensure_passwords(folder: Path, identities: tuple[str, ...]) -> dict[str, str]:
    """A password per identity, generated once and kept (0600) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    passwords: dict[str, str] = {}
    for identity in identities:
        path = folder / identity
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
        passwords[identity] = path.read_text().strip()
    return passwords


def rabbitmq_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt + sha256(salt + password)),
    with a random 4-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def same_or_new_hash(password: str, stored: str | None) -> str:
    """`stored` while it is still the hash of `password` (the same passwords give the same
    definitions, so a deployment is not rolled for a new salt), else a new one."""
    if stored:
        salt = base64.b64decode(stored)[:4]
        if rabbitmq_password_hash(password, salt) == stored:
            return stored
    return rabbitmq_password_hash(password)
