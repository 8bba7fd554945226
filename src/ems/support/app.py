"""The support service: the bot, the assistant that reads the asker's own figures from
monitoring, the LLM fallback, and the admins' inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from ems.common.deps import provide, publishing
from ems.common.inbox import EventConsumer, Subscription
from ems.common.security import TokenVerifier
from ems.common.web import Runtime, service_app
from ems.contracts.events import UserDeleted, UserUpdated
from ems.support.api import router
from ems.support.assistant.figures import ConsumptionApi
from ems.support.assistant.llm import LlmClient
from ems.support.consumers import handle_user_deleted, handle_user_updated
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
        consumer = EventConsumer(
            runtime.db,
            processed,
            SYNC_QUEUE,
            [
                Subscription(UserDeleted, handle_user_deleted),
                Subscription(UserUpdated, handle_user_updated),
            ],
        )
        async with httpx.AsyncClient() as http, publishing(app, runtime, outbox) as uow:
            throttle = MessageThrottle(
                settings.support_messages_per_minute, settings.support_messages_burst
            )
            figures = ConsumptionApi(
                http,
                settings.monitoring_internal_url,
                settings.support_monitoring_timeout_seconds,
                devices_url=settings.devices_internal_url,
            )
            provide(
                app,
                SupportContext(
                    uow,
                    LlmClient(settings, http),
                    throttle,
                    figures,
                    settings.support_llm_history_messages,
                ),
            )
            await consumer.start(runtime.broker)
            yield

    return service_app(SPEC, settings, [router], hook, token_verifier=token_verifier)
