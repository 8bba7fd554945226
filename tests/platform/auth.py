"""The auth service alone, for suites that need real tokens but not the whole identity
platform: on a real port (`AuthServer`: realtime and support fetch its JWKS over HTTP) or
in-process behind an ASGI transport (`Identity`: monitoring's token checks)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ems.auth.app import create_app as create_auth
from ems.auth.commands.first_admin import ensure_admin
from ems.auth.service import AuthContext
from ems.auth.settings import AuthSettings
from ems.auth.spec import SPEC as AUTH
from ems.common.deps import provided_by
from ems.common.migrations import migrate_service
from ems.common.security import TokenVerifier, parse_jwks
from tests.platform.identity import ADMIN, PASSWORD
from tests.platform.servers import serve


@dataclass
class Login:
    id: uuid.UUID
    username: str
    role: str
    access_token: str
    refresh_token: str


@dataclass
class AuthServer:
    address: str
    app: Any
    http: httpx.AsyncClient

    async def client(self, prefix: str = "client") -> Login:
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        response = await self.http.post(
            "/api/auth/register", json={"username": name, "password": "correct-horse-1"}
        )
        assert response.status_code == 201, response.text
        return await self.login(name)

    async def login(self, username: str, password: str = "correct-horse-1") -> Login:
        response = await self.http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        user = body["user"]
        return Login(
            uuid.UUID(user["id"]),
            user["username"],
            user["role"],
            body["access_token"],
            body["refresh_token"],
        )

    async def admin(self, prefix: str = "admin") -> Login:
        """A new admin of the test's own (events a test publishes may change it)."""
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        settings = provided_by(self.app, AuthContext).settings.model_copy(
            update={"admin_username": name, "admin_password": "admin-secret-1"}
        )
        await ensure_admin(settings)
        return await self.login(name, "admin-secret-1")

    def signing_key(self) -> Any:
        return provided_by(self.app, AuthContext).keys.signing_key

    def verifier(self) -> TokenVerifier:
        """What monitoring checks tokens with: this auth's published keys."""
        return verifier_of(self.http, provided_by(self.app, AuthContext).settings)


@dataclass
class Identity:
    """auth in-process, with one admin and tokens on demand."""

    client: httpx.AsyncClient
    settings: AuthSettings

    async def token(self, username: str, password: str = PASSWORD) -> str:
        response = await self.client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def new_client(self) -> tuple[uuid.UUID, str]:
        """A registered client: their id and an access token."""
        username = f"client{uuid.uuid4().hex[:8]}"
        response = await self.client.post(
            "/api/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"]), await self.token(username)

    def verifier(self) -> TokenVerifier:
        """What monitoring checks tokens with: auth's published keys, fetched in-process."""
        return verifier_of(self.client, self.settings)


def verifier_of(http: httpx.AsyncClient, settings: AuthSettings) -> TokenVerifier:
    """A token verifier that takes auth's keys from its JWKS document over `http`."""

    async def load_keys() -> dict[str, Any]:
        return parse_jwks((await http.get("/api/auth/jwks.json")).json())

    return TokenVerifier(load_keys, settings.jwt_issuer, settings.jwt_audience)


@asynccontextmanager
async def in_process_auth(make_settings: Any, db_prefix: str) -> AsyncIterator[Identity]:
    """The auth service in-process on a database of its own, cheap argon2, one admin."""
    settings: AuthSettings = make_settings(
        AuthSettings,
        db_prefix=f"{db_prefix}{uuid.uuid4().hex[:4]}_",
        admin_username=ADMIN,
        admin_password=PASSWORD,
    )
    await migrate_service(AUTH, settings)
    await ensure_admin(settings)
    app = create_auth(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            yield Identity(client, settings)


@asynccontextmanager
async def auth_on_a_port(make_settings: Any, db_prefix: str) -> AsyncIterator[AuthServer]:
    """The auth service on a real port (realtime fetches its JWKS over HTTP), on a database
    of its own, with its admin `rtadmin`."""
    settings: AuthSettings = make_settings(
        AuthSettings,
        db_prefix=f"{db_prefix}rt_",
        admin_username="rtadmin",
        admin_password="admin-secret-1",
    )
    await migrate_service(AUTH, settings)
    await ensure_admin(settings)
    app = create_auth(settings)
    async with serve(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        yield AuthServer(address, app, http)
