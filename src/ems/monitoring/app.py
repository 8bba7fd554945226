"""A monitoring replica: its reading partitions, the shared device sync queue, the outbox
relay, partition upkeep, and the consumption API, on one database pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from ems.common.db import Database
from ems.common.deps import provide
from ems.common.inbox import EventConsumer
from ems.common.outbox import OutboxRelay
from ems.common.security import TokenVerifier
from ems.common.tasks import every
from ems.common.web import Runtime, service_app
from ems.monitoring.alerts.notify import check_silences, send_digest
from ems.monitoring.api import router
from ems.monitoring.consumers import SYNC_QUEUE, DeviceSync
from ems.monitoring.ingest.intake import Intake
from ems.monitoring.ingest.live import LiveUpdates
from ems.monitoring.ingest.metrics import HELD, READINGS
from ems.monitoring.ingest.partitions import maintain_partitions
from ems.monitoring.ingest.replica import ReplicaControl
from ems.monitoring.ingest.store import StoreResult, cap_held_total
from ems.monitoring.models import outbox, processed_events
from ems.monitoring.settings import MonitoringSettings
from ems.monitoring.spec import SPEC
from ems.monitoring.sync.catchup import catching_up

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL = 3600.0
HELD_CHECK_INTERVAL = 30.0


def create_app(
    settings: MonitoringSettings, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.db is not None and runtime.broker is not None
        db = runtime.db
        await maintain(db, settings)
        # Once at start too: `every` waits its interval before the first round.
        await cap_held(db, settings)
        relay = OutboxRelay(db, runtime.broker, outbox)
        relay.start()
        provide(app, relay)
        sync = DeviceSync(settings)
        await EventConsumer(db, processed_events, SYNC_QUEUE, sync.subscriptions()).start(
            runtime.broker, prefetch=settings.sync_prefetch
        )

        live: LiveUpdates | None = None

        def on_committed(result: StoreResult) -> None:
            if result.alerts_raised:
                relay.notify()
            if live is not None and result.hours:
                live.offer(result.hours)

        intake = Intake(settings, db, outbox, on_committed)
        live = LiveUpdates(intake.link, settings.live_update_interval_seconds)
        app.state.intake = intake
        runtime.health_checks.append(intake.problems)
        control = ReplicaControl(
            settings, runtime.broker, intake, lambda: _problems(runtime), runtime.instance_id
        )
        app.state.replica = control
        live.start()
        await intake.start()
        await control.start()
        runtime.background += [
            asyncio.create_task(control.run(), name="replica-heartbeat"),
            asyncio.create_task(
                every(MAINTENANCE_INTERVAL, lambda: maintain(db, settings), "maintenance")
            ),
            asyncio.create_task(
                every(HELD_CHECK_INTERVAL, lambda: cap_held(db, settings), "held readings cap")
            ),
            asyncio.create_task(
                every(
                    settings.silence_check_seconds,
                    lambda: silence_round(app, db, relay),
                    "silent meters",
                )
            ),
            asyncio.create_task(
                every(
                    min(5.0, settings.alert_digest_seconds / 4),
                    lambda: digest_round(db, relay, settings.alert_digest_seconds),
                    "alert digest",
                )
            ),
        ]
        runtime.background += catching_up(
            db, sync, settings.devices_internal_url, settings.users_internal_url, runtime.credential
        )
        try:
            yield
        finally:
            await intake.stop()
            await live.stop()
            await relay.stop()

    return service_app(SPEC, settings, [router], hook, token_verifier=token_verifier)


async def silence_round(app: FastAPI, db: Database, relay: OutboxRelay) -> None:
    """One look for silent meters; `app.state.silence_rounds` counts the rounds done."""
    async with db.driver() as conn:
        raised = await check_silences(conn)
    app.state.silence_rounds = getattr(app.state, "silence_rounds", 0) + 1
    if raised:
        relay.notify()


async def digest_round(db: Database, relay: OutboxRelay, seconds: float) -> None:
    """The admins' digest of the window that ended (one replica sends it)."""
    async with db.driver() as conn:
        if await send_digest(conn, seconds):
            relay.notify()


def _problems(runtime: Runtime) -> list[str]:
    """What the replica tells the balancer: the same as its /health/ready (sans database
    ping, which the batches' failures stand for)."""
    problems = runtime.broker.problems() if runtime.broker is not None else []
    for check in runtime.health_checks:
        problems += check()
    return problems


async def maintain(db: Database, settings: MonitoringSettings) -> None:
    """Partitions for the accepted window; held, processed-event and per-second count rows
    past their time."""
    now = datetime.now(UTC)
    async with db.driver() as conn:
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
        # The overview reads the last minute's; an hour's worth waits here at most.
        await conn.execute("DELETE FROM ingest_rates WHERE second < now() - interval '10 minutes'")


async def cap_held(db: Database, settings: MonitoringSettings) -> None:
    """Keep the held readings of unknown devices within their total cap (oldest dropped)."""
    async with db.driver() as conn:
        dropped = await cap_held_total(conn, settings.held_total)
        HELD.set(await conn.fetchval("SELECT count(*) FROM unmatched_readings"))
    if dropped:
        READINGS.labels("held_dropped").inc(dropped)
        log.warning("held readings over the cap dropped", extra={"count": dropped})
