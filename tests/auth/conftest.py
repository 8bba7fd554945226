from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ems.auth.app import create_app
from ems.auth.settings import AuthSettings
from ems.auth.spec import SPEC
from ems.common.credentials import derive_secret, master_key
from ems.common.migrations import migrate_service


@dataclass
class AuthService:
    client: httpx.AsyncClient
    settings: AuthSettings
    app: Any

    async def register(self, username: str, password: str = "correct-horse-1") -> dict[str, Any]:
        response = await self.client.post(
            "/api/auth/register", json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def login(self, username: str, password: str = "correct-horse-1") -> dict[str, Any]:
        response = await self.client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def secret_of(self, service: str) -> str:
        return derive_secret(master_key(self.settings, self.settings.service_master_key), service)

    async def as_service(self, service: str) -> dict[str, str]:
        """Headers with a service token for `service`, fetched as that service would."""
        response = await self.client.post(
            "/internal/service-token", auth=(service, self.secret_of(service))
        )
        assert response.status_code == 200, response.text
        return {"X-Service-Token": response.json()["token"]}

    def as_gateway(self) -> dict[str, str]:
        """The header nginx sends with every forward-auth check."""
        return {"X-Service-Token": f"gateway:{self.secret_of('gateway')}"}


@pytest.fixture(scope="module")
async def auth(make_settings: Any, db_prefix: str) -> AsyncIterator[AuthService]:
    """The auth service in-process on a database of its own, with cheap argon2 for speed."""
    settings: AuthSettings = make_settings(
        AuthSettings,
        db_prefix=f"{db_prefix}{uuid.uuid4().hex[:4]}_",
    )
    await migrate_service(SPEC, settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            yield AuthService(client, settings, app)
