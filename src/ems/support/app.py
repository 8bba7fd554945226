"""The support service: the bot, the LLM fallback, and the admins' inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from ems.common.inbox import EventConsumer, Subscription
from ems.common.outbox import OutboxRelay
from ems.common.security import TokenVerifier
from ems.common.web import Runtime, service_app
from ems.contracts.events import UserDeleted, UserUpdated
from ems.support.api import router
from ems.support.consumers import handle_user_deleted, handle_user_updated
from ems.support.llm import LlmClient
from ems.support.models import outbox, processed
from ems.support.service import SupportContext
from ems.support.settings import SupportSettings
from ems.support.spec import SPEC
from ems.support.throttle import MessageThrottle

SYNC_QUEUE = "support.sync"


def create_app(settings: SupportSettings, token_verifier: TokenVerifier | None = None) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.db is not None and runtime.broker is not None
        relay = OutboxRelay(runtime.db, runtime.broker, outbox)
        consumer = EventConsumer(
            runtime.db,
            processed,
            SYNC_QUEUE,
            [
                Subscription(UserDeleted, handle_user_deleted),
                Subscription(UserUpdated, handle_user_updated),
            ],
        )
        async with httpx.AsyncClient() as http:
            throttle = MessageThrottle(
                settings.support_messages_per_minute, settings.support_messages_burst
            )
            app.state.support = SupportContext(
                runtime.db, relay, LlmClient(settings, http), throttle
            )
            relay.start()
            await consumer.start(runtime.broker)
            try:
                yield
            finally:
                await relay.stop()

    return service_app(SPEC, settings, [router], hook, token_verifier=token_verifier)
