"""The users service: profiles and roles, and the `user.*` events every copy follows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from ems.common.outbox import OutboxRelay
from ems.common.sync import catch_up
from ems.common.web import Runtime, create_service_app
from ems.users.api import internal, router
from ems.users.auth_client import AuthClient
from ems.users.consumers import apply_snapshot, registration_consumer
from ems.users.deps import read_sessions
from ems.users.models import outbox
from ems.users.settings import UsersSettings


def create_app(settings: UsersSettings) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.db is not None and runtime.broker is not None
        relay = OutboxRelay(runtime.db, runtime.broker, outbox)
        auth = AuthClient(
            settings.auth_internal_url, settings.auth_timeout_seconds, runtime.credential
        )
        app.state.relay = relay
        app.state.reads = read_sessions(runtime.db)
        app.state.auth_client = auth
        relay.start()
        # Consume first, then read the snapshot: every login is in one or the other.
        await registration_consumer(runtime.db, relay).start(runtime.broker)
        catching_up = asyncio.create_task(
            catch_up(
                "auth credentials",
                partial(auth.registered_page, limit=settings.snapshot_page_size),
                partial(apply_snapshot, runtime.db, relay),
            ),
            name="users-catch-up",
        )
        try:
            yield
        finally:
            catching_up.cancel()
            await asyncio.gather(catching_up, return_exceptions=True)
            await relay.stop()
            await auth.close()

    return create_service_app(
        name="users",
        settings=settings,
        api_prefix="/api/users",
        routers=[router, internal],
        hook=hook,
        description="User profiles and roles; admin user management and the caller's own profile.",
    )
