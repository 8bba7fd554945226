"""The ingest pipeline in-process: monitoring replicas and the balancer on a database and a
RabbitMQ vhost of their own per test module (queue names are fixed, so modules must not
share a vhost)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import aio_pika
import asyncpg
import pytest

from ems.balancer.app import create_app as create_balancer
from ems.balancer.service import Balancer
from ems.balancer.settings import BalancerSettings
from ems.common.bus import EXCHANGE_DATA, EXCHANGE_SYNC, Broker
from ems.common.migrations import migrate_service
from ems.common.settings import to_libpq
from ems.contracts.events import DeviceCreated, Envelope, EventBody
from ems.contracts.readings import reading_routing_key
from ems.monitoring.app import create_app as create_monitoring
from ems.monitoring.intake import Intake
from ems.monitoring.settings import MonitoringSettings
from ems.monitoring.spec import SPEC as MONITORING
from tests.conftest import AMQP_HOST
from tests.support.polling import eventually


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def module_vhost(run_id: str) -> Iterator[str]:
    """An AMQP URL on a vhost of this module's own."""
    vhost = f"ems-test-{run_id}-{uuid.uuid4().hex[:6]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@{AMQP_HOST}/{vhost}"
    _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="module")
async def monitoring_settings(
    make_settings: Any, db_prefix: str, module_vhost: str
) -> MonitoringSettings:
    """Settings of replica 0 on a migrated database of this module's own."""
    settings: MonitoringSettings = make_settings(
        MonitoringSettings,
        db_prefix=f"{db_prefix}{uuid.uuid4().hex[:4]}_",
        amqp_url=module_vhost,
        ingest_batch_ms=20,
        readings_retention_days=7,
        live_update_interval_seconds=0.1,
        devices_internal_url="",
    )
    await migrate_service(MONITORING, settings)
    return settings


def expected_micro(values: list[float]) -> int:
    """The exact total the platform must store: distinct readings summed in decimal."""
    return int(sum((Decimal(repr(v)) for v in values), Decimal(0)) * 1_000_000)


@dataclass
class Pipeline:
    """Running replicas and balancer, with a plain AMQP client to feed them."""

    settings: MonitoringSettings
    broker: Broker
    db: asyncpg.Pool
    stack: AsyncExitStack
    apps: dict[int, Any] = field(default_factory=dict)
    balancer_app: Any = None

    @property
    def balancer(self) -> Balancer:
        balancer: Balancer = self.balancer_app.state.balancer
        return balancer

    def intake(self, instance: int) -> Intake:
        intake: Intake = self.apps[instance].state.intake
        return intake

    async def start_replica(self, instance: int, **overrides: Any) -> Any:
        settings = self.settings.model_copy(update={"instance": instance, **overrides})
        app = create_monitoring(settings)
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        self.apps[instance] = app
        await eventually(_ready(app), timeout=10)
        return app

    async def start_balancer(self, replicas: int = 2, **overrides: Any) -> Any:
        values = {
            "pg_url": self.settings.pg_url,
            "amqp_url": self.settings.amqp_url,
            "environment": "test",
            "log_json": False,
            "monitoring_replicas": replicas,
            "replica_check_interval_seconds": 0.2,
            "replica_gone_after_seconds": 1.0,
            **overrides,
        }
        app = create_balancer(BalancerSettings(**values))
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        self.balancer_app = app
        await eventually(lambda: _connected(app.state.balancer), timeout=10)
        return app

    async def publish_event(self, body: EventBody) -> Envelope:
        envelope = Envelope.wrap(body)
        await self.broker.publish(
            EXCHANGE_SYNC,
            envelope.type,
            envelope.model_dump_json().encode(),
            message_id=str(envelope.event_id),
        )
        return envelope

    async def create_device(
        self, limit_kwh: float = 1000.0, owner_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        device_id = uuid.uuid4()
        await self.publish_event(
            DeviceCreated(
                id=device_id,
                name=f"meter {device_id.hex[:4]}",
                owner_id=owner_id,
                max_hourly_kwh=limit_kwh,
            )
        )
        return device_id

    async def wait_for_devices(self, *device_ids: uuid.UUID) -> None:
        async def known() -> bool:
            count = await self.db.fetchval(
                "SELECT count(*) FROM devices WHERE id = ANY($1::uuid[])", list(device_ids)
            )
            return bool(count == len(device_ids))

        await eventually(known, timeout=10)

    async def publish_reading(
        self, device_id: uuid.UUID | str, timestamp: datetime | str | int, value: Any
    ) -> None:
        """The seeds' format, as any AMQP client would send it."""
        stamp = timestamp.isoformat() if isinstance(timestamp, datetime) else timestamp
        body = {"device_id": str(device_id), "timestamp": stamp, "measurement_value": value}
        await self.publish_raw(reading_routing_key(device_id), json.dumps(body).encode())

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        await self.broker.publish(EXCHANGE_DATA, routing_key, body)

    async def hourly(self, device_id: uuid.UUID) -> dict[datetime, int]:
        rows = await self.db.fetch(
            "SELECT hour, micro_kwh FROM hourly_consumption WHERE device_id = $1", device_id
        )
        return {row["hour"]: row["micro_kwh"] for row in rows}

    async def readings_count(self, device_id: uuid.UUID) -> int:
        count: int = await self.db.fetchval(
            "SELECT count(*) FROM readings WHERE device_id = $1", device_id
        )
        return count


def _ready(app: Any) -> Any:
    async def probe() -> bool:
        intake: Intake = app.state.intake
        return intake.link.is_connected()

    return probe


async def _connected(balancer: Balancer) -> bool:
    return balancer.link.is_connected()


@pytest.fixture
async def pipeline(monitoring_settings: MonitoringSettings) -> AsyncIterator[Pipeline]:
    """Nothing running yet: each test starts the replicas and balancer it needs."""
    broker = Broker(monitoring_settings.amqp_url, "test-client")
    await broker.connect()
    pool = await asyncpg.create_pool(to_libpq(monitoring_settings.dsn()), min_size=1, max_size=4)
    async with AsyncExitStack() as stack:
        yield Pipeline(monitoring_settings, broker, pool, stack)
    await pool.close()
    await broker.close()


async def purge(amqp_url: str, *queues: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            await queue.purge()
    finally:
        await connection.close()
