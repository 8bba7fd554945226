"""The auth service: accounts' credentials, tokens, and the gateway's forward-auth check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI

from ems.auth import accounts_api
from ems.auth.api import internal, router
from ems.auth.consumers import user_events_consumer
from ems.auth.keys import load_key_ring
from ems.auth.models import outbox
from ems.auth.passwords import Passwords
from ems.auth.service import AuthContext
from ems.auth.settings import AuthSettings
from ems.auth.throttle import LoginThrottle
from ems.common.outbox import OutboxRelay
from ems.common.security import TokenVerifier
from ems.common.web import Runtime, create_service_app


def create_app(settings: AuthSettings) -> FastAPI:
    app_ref: dict[str, FastAPI] = {}

    async def own_keys() -> dict[str, Ed25519PublicKey]:
        # Reload from authdb: another replica may have rotated the key.
        app = app_ref["app"]
        ctx: AuthContext = app.state.auth
        keys = await load_key_ring(app.state.runtime.db)
        app.state.auth = AuthContext(ctx.settings, ctx.passwords, keys, ctx.throttle)
        return keys.public

    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.db is not None and runtime.broker is not None
        keys = await load_key_ring(runtime.db)
        app.state.auth = AuthContext(settings, Passwords(settings), keys, LoginThrottle(settings))
        relay = OutboxRelay(runtime.db, runtime.broker, outbox)
        app.state.relay = relay
        relay.start()
        # Role changes and deletions made in the users service.
        await user_events_consumer(runtime.db, relay).start(runtime.broker)
        try:
            yield
        finally:
            await relay.stop()

    app = create_service_app(
        name="auth",
        settings=settings,
        api_prefix="/api/auth",
        routers=[router, internal, accounts_api.router, accounts_api.internal],
        hook=hook,
        token_verifier=TokenVerifier(own_keys, settings.jwt_issuer, settings.jwt_audience),
        description="Registration, login, token refresh and revocation, public keys.",
    )
    app_ref["app"] = app
    return app
