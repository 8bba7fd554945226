"""The devices service: devices, their owners and tariffs, the `device.*` and `tariff.*`
events, and a copy of users kept true by `user.*` events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
from fastapi import FastAPI

from ems.common.deps import publishing
from ems.common.sync import fetch_page, keeping_a_copy
from ems.common.web import Runtime, service_app
from ems.contracts.identity import ProfilePage
from ems.devices.api import internal, router, tariffs
from ems.devices.consumers import apply_snapshot, user_events_consumer
from ems.devices.models import outbox
from ems.devices.settings import DevicesSettings
from ems.devices.spec import SPEC


def create_app(settings: DevicesSettings) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        users = httpx.AsyncClient(
            base_url=settings.users_internal_url,
            timeout=settings.users_timeout_seconds,
            auth=runtime.credential,
        )
        profiles = partial(
            fetch_page, users, "/internal/users", ProfilePage, limit=settings.snapshot_page_size
        )
        async with (
            users,
            publishing(app, runtime, outbox) as uow,
            keeping_a_copy(uow, user_events_consumer, "profiles", profiles, apply_snapshot),
        ):
            yield

    return service_app(SPEC, settings, [router, tariffs, internal], hook)
