"""The realtime service: `/ws` for live alerts, chat, typing and consumption updates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from ems.common.deps import provide
from ems.common.security import TokenVerifier
from ems.common.tasks import Background
from ems.common.web import Runtime, service_app
from ems.realtime.api import router
from ems.realtime.consumers import SYNC_QUEUE, WS_QUEUE, handle_sync_event, handle_ws_message
from ems.realtime.service import RealtimeContext
from ems.realtime.settings import RealtimeSettings
from ems.realtime.sockets.connections import CLOSE_RESTART
from ems.realtime.sockets.gcpolicy import keep_collections_short
from ems.realtime.sockets.socket import RealtimeSocket
from ems.realtime.spec import SPEC


def create_app(settings: RealtimeSettings, token_verifier: TokenVerifier | None = None) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.broker is not None
        ctx.broker = runtime.broker
        for name, handler in ((WS_QUEUE, handle_ws_message), (SYNC_QUEUE, handle_sync_event)):
            await runtime.broker.consume(
                name, partial(handler, ctx), prefetch=500, instance_id=ctx.instance_id
            )
        ctx.presence.start()
        gc_policy = Background("gc-policy")
        if settings.gc_freeze_interval_seconds > 0:
            gc_policy.start(
                keep_collections_short(
                    settings.gc_freeze_interval_seconds, settings.gc_full_interval_seconds
                )
            )
        try:
            yield
        finally:
            await gc_policy.stop()
            ctx.hub.close_all(CLOSE_RESTART, "service restarting")
            await ctx.presence.stop()

    app = service_app(SPEC, settings, [router], hook, token_verifier=token_verifier)
    ctx = RealtimeContext(settings, app.state.token_verifier)
    provide(app, ctx)
    if ctx.verifier.revocations is not None:
        # A logout, a password or role change, a deletion: the sockets it names close.
        ctx.verifier.revocations.on_revoked(ctx.hub.close_revoked)
    app.middleware_stack = SocketFirst(RealtimeSocket(ctx), app.build_middleware_stack())
    return app


class SocketFirst:
    """`/ws` goes straight to the socket handler, past the HTTP middleware and routing.

    Each idle socket keeps its whole ASGI call chain suspended; with thousands of sockets a
    shorter chain is measurably less memory per socket (bench/ws). Everything else (REST,
    health, metrics, lifespan) takes the usual FastAPI path.
    """

    def __init__(self, socket: ASGIApp, rest: ASGIApp) -> None:
        self.socket = socket
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            await self.socket(scope, receive, send)
        else:
            await self.rest(scope, receive, send)
