"""Fixtures the realtime and support tests share: the auth service on a real port (for
real tokens and its JWKS), its admin, and broker clients that publish as the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ems.realtime.app import create_app as create_realtime_app
from ems.realtime.settings import RealtimeSettings
from tests.platform.auth import AuthServer, Login, auth_on_a_port
from tests.platform.broker import Senders, TestBroker
from tests.platform.servers import serve


@pytest.fixture(scope="session")
async def auth_server(make_settings: Any, db_prefix: str) -> AsyncIterator[AuthServer]:
    """The auth service on a real port (realtime fetches its JWKS over HTTP)."""
    async with auth_on_a_port(make_settings, db_prefix) as running:
        yield running


@pytest.fixture(scope="session")
async def admin_login(auth_server: AuthServer) -> Login:
    return await auth_server.login("rtadmin", "admin-secret-1")


@pytest.fixture(scope="module")
async def senders(amqp_vhost: str, test_broker: TestBroker) -> AsyncIterator[Senders]:
    """Publishes what the other services would, each message as its owner."""
    clients = Senders(test_broker, amqp_vhost)
    yield clients
    await clients.close()


@pytest.fixture(scope="session")
def realtime_settings(make_settings: Any, auth_server: AuthServer) -> RealtimeSettings:
    settings: RealtimeSettings = make_settings(
        RealtimeSettings,
        auth_internal_url=f"http://{auth_server.address}",
        auth_timeout_seconds=1.0,
        presence_flush_seconds=0.05,
        presence_interval_seconds=2.0,
        allowed_origins=["http://app.example"],
        max_message_bytes=2048,
        # The test process is shared by many services; leave its collector alone.
        gc_freeze_interval_seconds=0,
    )
    return settings


@pytest.fixture(scope="module")
async def realtime(realtime_settings: RealtimeSettings) -> AsyncIterator[str]:
    """One realtime instance on a real port; yields its address."""
    app = create_realtime_app(realtime_settings)
    async with serve(app, **realtime_settings.uvicorn_options()) as address:
        yield address
