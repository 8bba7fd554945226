"""The devices service: devices and their owners, the `device.*` events, and a copy of
users kept true by `user.*` events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
from fastapi import FastAPI

from ems.common.outbox import OutboxRelay
from ems.common.sync import catch_up, fetch_page
from ems.common.web import Runtime, create_service_app
from ems.contracts.identity import ProfilePage
from ems.devices.api import internal, router
from ems.devices.consumers import apply_snapshot, user_events_consumer
from ems.devices.deps import read_sessions
from ems.devices.models import outbox
from ems.devices.settings import DevicesSettings


def create_app(settings: DevicesSettings) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.db is not None and runtime.broker is not None
        relay = OutboxRelay(runtime.db, runtime.broker, outbox)
        app.state.relay = relay
        app.state.reads = read_sessions(runtime.db)
        relay.start()
        users = httpx.AsyncClient(
            base_url=settings.users_internal_url,
            timeout=settings.users_timeout_seconds,
            auth=runtime.credential,
        )
        # Consume first, then read the snapshot: every user is in one or the other.
        await user_events_consumer(runtime.db, relay).start(runtime.broker)
        catching_up = asyncio.create_task(
            catch_up(
                "users profiles",
                partial(
                    fetch_page,
                    users,
                    "/internal/users",
                    ProfilePage,
                    limit=settings.snapshot_page_size,
                ),
                partial(apply_snapshot, runtime.db),
            ),
            name="devices-catch-up",
        )
        try:
            yield
        finally:
            catching_up.cancel()
            await asyncio.gather(catching_up, return_exceptions=True)
            await relay.stop()
            await users.aclose()

    return create_service_app(
        name="devices",
        settings=settings,
        api_prefix="/api/devices",
        routers=[router, internal],
        hook=hook,
        description="Devices (smart meters), their owners and limits; a client's own devices.",
    )
