from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ems.common.migrations import migrate_service
from ems.support.app import create_app
from ems.support.service import SupportContext
from ems.support.settings import SupportSettings
from ems.support.spec import SPEC
from tests.platform.auth import AuthServer, Login
from tests.platform.servers import serve
from tests.platform.tcpproxy import free_port
from tests.realtime.fixtures import (
    admin_login,
    auth_server,
    realtime,
    realtime_settings,
    senders,
)
from tests.support.llm_server import llm_app

__all__ = ["admin_login", "auth_server", "realtime", "realtime_settings", "senders"]


@dataclass
class LlmServer:
    base_url: str
    requests: list[dict[str, Any]]


@dataclass
class Support:
    http: httpx.AsyncClient
    app: Any
    settings: SupportSettings

    def as_(self, login: Login) -> dict[str, str]:
        return {"Authorization": f"Bearer {login.access_token}"}

    @property
    def context(self) -> SupportContext:
        """What the running app's use cases work with."""
        ctx: SupportContext = self.app.state.provided[SupportContext]
        return ctx

    @context.setter
    def context(self, ctx: SupportContext) -> None:
        self.app.state.provided[SupportContext] = ctx


@pytest.fixture(scope="session")
async def llm_server() -> AsyncIterator[LlmServer]:
    requests: list[dict[str, Any]] = []
    # A request left hanging on purpose must not hold up the shutdown.
    async with serve(llm_app(requests), timeout_graceful_shutdown=1) as address:
        yield LlmServer(f"http://{address}/v1", requests)


@pytest.fixture(scope="module")
async def support(make_settings: Any, auth_server: AuthServer) -> AsyncIterator[Support]:
    """The support service in-process on its own database; the LLM is not configured, and
    monitoring is nowhere (a closed port): questions about figures get the apology."""
    settings: SupportSettings = make_settings(
        SupportSettings,
        auth_internal_url=f"http://{auth_server.address}",
        monitoring_internal_url=f"http://127.0.0.1:{free_port()}",
    )
    await migrate_service(SPEC, settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://support") as http:
            yield Support(http, app, settings)
