"""A monitoring replica: its ingest queue, the shared device sync queue, the outbox relay,
partition upkeep, and the consumption API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
from fastapi import FastAPI

from ems.common.db import Database
from ems.common.inbox import EventConsumer
from ems.common.outbox import OutboxRelay
from ems.common.security import TokenVerifier
from ems.common.settings import to_libpq
from ems.common.web import Runtime, create_service_app
from ems.monitoring.api import router
from ems.monitoring.catchup import keep_catching_up
from ems.monitoring.consumers import SYNC_QUEUE, DeviceSync
from ems.monitoring.intake import Intake
from ems.monitoring.live import LiveUpdates
from ems.monitoring.models import outbox, processed_events
from ems.monitoring.partitions import maintain_partitions
from ems.monitoring.settings import MonitoringSettings
from ems.monitoring.store import StoreResult

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL = 3600.0


def create_app(
    settings: MonitoringSettings, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.db is not None and runtime.broker is not None
        pool = await asyncpg.create_pool(to_libpq(settings.dsn()), min_size=1, max_size=2)
        # The API's reads: plain SQL, a pool of their own so ingest never waits on them.
        app.state.read_pool = await asyncpg.create_pool(
            to_libpq(settings.dsn()), min_size=1, max_size=settings.db_pool_size
        )
        await maintain(pool, settings)
        relay = OutboxRelay(runtime.db, runtime.broker, outbox)
        relay.start()
        sync = DeviceSync(settings)
        await EventConsumer(runtime.db, processed_events, SYNC_QUEUE, sync.subscriptions()).start(
            runtime.broker, prefetch=settings.sync_prefetch
        )

        live: LiveUpdates | None = None

        def on_committed(result: StoreResult) -> None:
            if result.alerts_raised:
                relay.notify()
            if live is not None and result.hours:
                live.offer(result.hours)

        intake = Intake(settings, pool, on_committed)
        live = LiveUpdates(intake.link, settings.live_update_interval_seconds)
        app.state.intake = intake
        live.start()
        await intake.start()
        runtime.background.append(asyncio.create_task(_maintenance_loop(pool, settings)))
        if settings.devices_internal_url:
            runtime.background.append(
                asyncio.create_task(
                    keep_catching_up(
                        runtime.db, sync, settings.devices_internal_url, runtime.credential
                    )
                )
            )
        try:
            yield
        finally:
            await intake.stop()
            await live.stop()
            await relay.stop()
            await pool.close()
            await app.state.read_pool.close()

    return create_service_app(
        name="monitoring",
        settings=settings,
        api_prefix="/api/consumption",
        routers=[router],
        hook=hook,
        token_verifier=token_verifier,
        description="Hourly consumption, ranges, CSV export and overconsumption alerts.",
    )


async def maintain(pool: asyncpg.Pool, settings: MonitoringSettings) -> None:
    """Partitions for the accepted window; held and processed-event rows past their time."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await maintain_partitions(
            conn,
            now,
            settings.readings_retention_days,
            timedelta(seconds=settings.max_future_seconds),
        )
        await conn.execute(
            "DELETE FROM unmatched_readings WHERE received_at < $1",
            now - timedelta(days=settings.unmatched_retention_days),
        )
        # Far longer than any redelivery: a repeat this old is no longer expected.
        await conn.execute(
            "DELETE FROM processed_events WHERE processed_at < $1", now - timedelta(days=30)
        )


async def _maintenance_loop(pool: asyncpg.Pool, settings: MonitoringSettings) -> None:
    while True:
        await asyncio.sleep(MAINTENANCE_INTERVAL)
        try:
            await maintain(pool, settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("maintenance failed; will try again", exc_info=True)


__all__ = ["Database", "create_app"]
