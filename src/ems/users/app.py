"""The users service: profiles and roles, and the `user.*` events every copy follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from ems.common.deps import provide, publishing
from ems.common.sync import keeping_a_copy
from ems.common.web import Runtime, service_app
from ems.users.api import internal, router
from ems.users.consumers import apply_snapshot, registration_consumer
from ems.users.logins.client import AuthClient
from ems.users.models import outbox
from ems.users.settings import UsersSettings
from ems.users.spec import SPEC


def create_app(settings: UsersSettings) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        auth = AuthClient(
            settings.auth_internal_url, settings.auth_timeout_seconds, runtime.credential
        )
        provide(app, auth)
        logins = partial(auth.registered_page, limit=settings.snapshot_page_size)
        try:
            async with (
                publishing(app, runtime, outbox) as uow,
                keeping_a_copy(uow, registration_consumer, "logins", logins, apply_snapshot),
            ):
                yield
        finally:
            await auth.close()

    return service_app(SPEC, settings, [router, internal], hook)
