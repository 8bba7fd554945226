"""Service credentials: who may call a service's `/internal/*` routes.

Each service has a secret of its own (`EMS_SERVICE_SECRET`), derived from a master key that
only auth holds (`EMS_SERVICE_MASTER_KEY`; `ems service-secret NAME` prints one). A service
exchanges its secret at auth (`POST /internal/service-token`, HTTP Basic) for a short-lived
service token: an EdDSA JWT signed by auth (`typ: service`, `sub: <service>`) that every
service verifies with the keys it already has for users' tokens, and sends it in
`X-Service-Token`. Each internal route names the services it answers. The gateway (nginx
cannot sign) sends `gateway:<secret>` itself, which only auth, holder of the master key, can
check.

In development and tests, a missing master key is generated once under EMS_DATA_DIR and
every missing secret derived from it; production refuses to start without real ones.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, Request

from ems.common.errors import forbidden, unauthorized
from ems.common.security import InvalidToken, TokenVerifier, tls_context
from ems.common.settings import PLACEHOLDER_SECRETS, CommonSettings
from ems.contracts.identity import ServiceToken

HEADER = "X-Service-Token"
TOKEN_PATH = "/internal/service-token"
MASTER_KEY_FILE = "service-master.key"
# The caller name nginx uses for the forward-auth check.
GATEWAY = "gateway"
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")

# Checks what a caller sent in `X-Service-Token`; returns the caller's name.
ServiceCheck = Callable[[str], Awaitable[str]]


class MissingCredential(RuntimeError):
    pass


def derive_secret(master_key: str, service: str) -> str:
    """The secret of one service: an HMAC of its name under the master key."""
    digest = hmac.new(master_key.encode(), f"ems-service:{service}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def development_master_key(data_dir: Path) -> str:
    """The master key kept under the data folder, generated on first use (mode 600)."""
    path = data_dir / MASTER_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)  # the other process is still writing it
    raise MissingCredential(f"{path} is empty")


def master_key(settings: CommonSettings, configured: str | None) -> str:
    if configured:
        return configured
    if settings.environment == "production":
        raise MissingCredential("EMS_SERVICE_MASTER_KEY must be set in production")
    return development_master_key(settings.data_dir)


def service_secret(settings: CommonSettings, service: str) -> str:
    """This service's own secret: from settings, or (outside production) derived."""
    configured = settings.service_secret
    if settings.environment == "production":
        if configured is None or configured.strip().lower() in PLACEHOLDER_SECRETS:
            raise MissingCredential(f"EMS_SERVICE_SECRET must be set for {service} in production")
        return configured
    return configured or derive_secret(development_master_key(settings.data_dir), service)


def gateway_credential(master: str) -> str:
    """What nginx sends to auth's forward-auth check: `gateway:<secret>`."""
    return f"{GATEWAY}:{derive_secret(master, GATEWAY)}"


def secret_matches(master: str, name: str, secret: str) -> bool:
    return bool(SERVICE_NAME.match(name)) and hmac.compare_digest(
        derive_secret(master, name), secret
    )


class ServiceCredential(httpx.Auth):
    """Adds this service's token to every request of an httpx client (`auth=`), fetching a
    new one from auth shortly before the current one expires."""

    # Renew this long before expiry, so that a token never expires on the wire.
    MARGIN = 30.0

    def __init__(self, name: str, secret: str, auth_url: str, timeout: float = 5.0) -> None:
        self.name = name
        self._secret = secret
        self._auth_url = auth_url.rstrip("/")
        self._timeout = timeout
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token is None or time.monotonic() >= self._renew_at:
            async with self._lock:
                if self._token is None or time.monotonic() >= self._renew_at:
                    await self._fetch()
        assert self._token is not None
        return self._token

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=self._timeout, verify=tls_context()) as client:
            response = await client.post(
                self._auth_url + TOKEN_PATH, auth=(self.name, self._secret)
            )
        response.raise_for_status()
        issued = ServiceToken.model_validate_json(response.content)
        self._token = issued.token
        self._renew_at = time.monotonic() + max(1.0, issued.expires_in - self.MARGIN)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers[HEADER] = await self.token()
        response = yield request
        if response.status_code == 401 and HEADER.lower() in _challenged(response):
            # auth rotated its key or restarted with a new one: one fresh token, one retry.
            self._token = None
            request.headers[HEADER] = await self.token()
            yield request


def _challenged(response: httpx.Response) -> str:
    challenge: str = response.headers.get("www-authenticate", "")
    return challenge.lower()


def token_check(verifier: TokenVerifier) -> ServiceCheck:
    """What every service accepts: a service token auth signed."""

    async def check(presented: str) -> str:
        return await verifier.verify_service(presented)

    return check


def internal_caller(*allowed: str) -> Any:
    """A dependency for `/internal/*` routes: the caller must present a service credential,
    and be one of `allowed` (any service when none is named)."""

    async def caller(request: Request) -> str:
        presented = request.headers.get(HEADER)
        if not presented:
            raise _challenge("a service credential is required")
        check: ServiceCheck = request.app.state.service_check
        try:
            name: str = await check(presented)
        except InvalidToken:
            raise _challenge("invalid service credential") from None
        if allowed and name not in allowed:
            raise forbidden(f"{name} may not call this route")
        return name

    return Depends(caller)


def _challenge(message: str) -> Exception:
    error = unauthorized(message)
    error.headers = {"WWW-Authenticate": HEADER}
    return error
