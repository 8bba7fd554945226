"""The auth service: accounts' credentials, tokens, revocations, and the gateway's check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI

from ems.auth import service
from ems.auth.api import internal, router
from ems.auth.consumers import user_events_consumer
from ems.auth.models import outbox
from ems.auth.security.keys import load_key_ring
from ems.auth.security.passwords import Passwords
from ems.auth.security.throttle import LoginThrottle
from ems.auth.service import AuthContext
from ems.auth.settings import AuthSettings
from ems.auth.spec import SPEC
from ems.common.credentials import master_key
from ems.common.deps import provide, provided_by
from ems.common.outbox import OutboxRelay
from ems.common.revocations import Revocations
from ems.common.security import TokenVerifier
from ems.common.web import Runtime, service_app
from ems.contracts.identity import RevocationPage


def create_app(settings: AuthSettings) -> FastAPI:
    app_ref: dict[str, FastAPI] = {}

    def context() -> AuthContext:
        return provided_by(app_ref["app"], AuthContext)

    async def own_keys() -> dict[str, Ed25519PublicKey]:
        # Reload from authdb: another replica may have rotated the key.
        ctx = context()
        ctx.keys = await load_key_ring(ctx.db)
        return ctx.keys.public

    async def own_revocations(since: datetime | None) -> RevocationPage:
        # auth reads its own table; its own writes reach its copy at once (service.py).
        runtime: Runtime = app_ref["app"].state.runtime
        assert runtime.db is not None
        return await service.revocations_since(runtime.db, since)

    revocations = Revocations(
        own_revocations,
        interval=settings.revocations_poll_seconds,
        max_age=settings.revocations_max_age_seconds,
    )

    async def service_caller(presented: str) -> str:
        # nginx cannot sign: it sends `gateway:<secret>`, which only auth can check.
        name = service.raw_service_caller(context(), presented)
        return name if name is not None else await verifier.verify_service(presented)

    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.db is not None and runtime.broker is not None
        relay = OutboxRelay(runtime.db, runtime.broker, outbox)
        ctx = AuthContext(
            settings=settings,
            db=runtime.db,
            passwords=Passwords(settings),
            keys=await load_key_ring(runtime.db),
            throttle=LoginThrottle(runtime.db, settings),
            revocations=revocations,
            relay=relay,
            # Every service's secret derives from it; a production start without one fails.
            master_key=master_key(settings, settings.service_master_key),
        )
        provide(app, ctx)
        relay.start()
        # Role changes and deletions made in the users service.
        await user_events_consumer(runtime.db, relay, settings).start(runtime.broker)
        try:
            yield
        finally:
            await relay.stop()

    verifier = TokenVerifier(own_keys, settings.jwt_issuer, settings.jwt_audience, revocations)
    app = service_app(
        SPEC,
        settings,
        [router, internal],
        hook,
        token_verifier=verifier,
        service_check=service_caller,
    )
    app_ref["app"] = app
    return app
