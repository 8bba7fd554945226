"""The ingest pipeline in-process: monitoring replicas and the balancer on a database and a
RabbitMQ vhost of their own per test module (queue names are fixed, so modules must not
share a vhost). Each logs in as itself; the test publishes readings as a meter, and device
and user events as the services that own them. Also a replica as a real process
(`ReplicaProcess`), and what the stored totals must be (`Truth`, `expected_micro`)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import httpx

from ems.balancer.app import create_app as create_balancer
from ems.balancer.service import Balancer
from ems.balancer.settings import BalancerSettings
from ems.common.deps import provided_by
from ems.common.messaging import EXCHANGE_DATA, EXCHANGE_SYNC, Broker
from ems.common.messaging.topology import (
    DEVICES,
    METER,
    READING_PARTITIONS,
    USERS,
    partition_queue,
    publishers_of,
)
from ems.common.migrations import migrate_service
from ems.common.security import TokenVerifier
from ems.common.settings import to_libpq, with_database
from ems.contracts.events import DeviceCreated, Envelope, EventBody
from ems.contracts.readings import reading_routing_key
from ems.monitoring.app import create_app as create_monitoring
from ems.monitoring.ingest.intake import Intake
from ems.monitoring.settings import MonitoringSettings
from ems.monitoring.spec import SPEC as MONITORING
from tests.platform.broker import TestBroker, admin_url
from tests.platform.polling import eventually
from tests.platform.tcpproxy import TcpProxy, free_port


async def migrated_monitoring_settings(
    make_settings: Any, db_prefix: str, module_vhost: str, **overrides: Any
) -> MonitoringSettings:
    settings: MonitoringSettings = make_settings(
        MonitoringSettings,
        db_prefix=f"{db_prefix}{uuid.uuid4().hex[:4]}_",
        amqp_url=module_vhost,
        ingest_batch_ms=20,
        live_update_interval_seconds=0.1,
        # Several heartbeats within the balancer's (test) second before a replica is gone.
        replica_heartbeat_seconds=0.2,
        devices_internal_url="",
        users_internal_url="",
        **{"readings_retention_days": 7, **overrides},
    )
    await migrate_service(MONITORING, settings)
    return settings


def hour_of(moment: datetime) -> datetime:
    """The start of the hour `moment` is in (hours are stored in UTC)."""
    return moment.replace(minute=0, second=0, microsecond=0)


def expected_micro(values: list[float]) -> int:
    """The exact total the platform must store: distinct readings summed in decimal."""
    return int(sum((Decimal(repr(v)) for v in values), Decimal(0)) * 1_000_000)


Readings = list[tuple[uuid.UUID, datetime, float]]


def mixed_stream(
    devices: list[uuid.UUID], steps: int, repeats: int, seed: int, start: datetime
) -> tuple[Readings, Readings]:
    """`steps` 10-minute readings per device from `start`, and the stream a meter fleet
    sends of them: every one, `repeats` of them again, shuffled."""
    rng = random.Random(seed)
    readings = [
        (device, start + timedelta(minutes=10 * step), round(rng.uniform(0, 1.5), 4))
        for step in range(steps)
        for device in devices
    ]
    stream = readings + rng.sample(readings, repeats)
    rng.shuffle(stream)
    return readings, stream


@dataclass
class Truth:
    """What the hourly totals must be: every distinct reading counted once in its hour."""

    hours: dict[uuid.UUID, dict[datetime, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    def add(self, readings: Readings) -> None:
        for device, moment, value in readings:
            self.hours[device][hour_of(moment)].append(value)

    async def matches(self, pipeline: Pipeline) -> bool:
        for device, hours in self.hours.items():
            want = {hour: expected_micro(values) for hour, values in hours.items()}
            if await pipeline.hourly(device) != want:
                return False
        return True


@asynccontextmanager
async def database_proxy(settings: MonitoringSettings) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy the test can cut in front of the replica's database, and its database URL."""
    pg = urlsplit(settings.pg_url)
    proxy = TcpProxy(pg.port or 5432, pg.hostname or "127.0.0.1")
    await proxy.start()
    url = with_database(
        f"postgresql://{pg.username or 'postgres'}@127.0.0.1:{proxy.port}",
        settings.full_database_name(),
    )
    try:
        yield proxy, url
    finally:
        await proxy.stop()


@dataclass
class Pipeline:
    """Running replicas and balancer, with a plain AMQP client to feed them."""

    settings: MonitoringSettings
    # The services that own device and user events, each logged in as itself.
    senders: dict[str, Broker]
    meter: Broker
    db: asyncpg.Pool
    stack: AsyncExitStack
    apps: dict[int, Any] = field(default_factory=dict)
    balancer_app: Any = None
    _stops: dict[int, AsyncExitStack] = field(default_factory=dict)

    @property
    def balancer(self) -> Balancer:
        balancer: Balancer = provided_by(self.balancer_app, Balancer)
        return balancer

    def intake(self, instance: int) -> Intake:
        intake: Intake = self.apps[instance].state.intake
        return intake

    async def start_replica(
        self, instance: int, verifier: TokenVerifier | None = None, **overrides: Any
    ) -> Any:
        settings = self.settings.model_copy(update={"instance": instance, **overrides})
        app = create_monitoring(settings, verifier)
        own = AsyncExitStack()
        await own.enter_async_context(app.router.lifespan_context(app))
        self.stack.push_async_callback(own.aclose)
        self.apps[instance] = app
        self._stops[instance] = own
        await eventually(_ready(app), timeout=10)
        return app

    async def stop_replica(self, instance: int) -> None:
        """A graceful stop (as `docker service scale` down does)."""
        await self._stops.pop(instance).aclose()
        del self.apps[instance]

    @property
    def admin_url(self) -> str:
        """The test's own inspector login on the vhost (reads queues; trusted by nobody)."""
        return admin_url(self.settings.amqp_url)

    async def start_balancer(self, **overrides: Any) -> Any:
        values = {
            "pg_url": self.settings.pg_url,
            "amqp_url": self.settings.amqp_url,
            "broker_user_prefix": self.settings.broker_user_prefix,
            "broker_secrets_dir": self.settings.broker_secrets_dir,
            "environment": "test",
            "log_json": False,
            "replica_check_interval_seconds": 0.2,
            "replica_gone_after_seconds": 2.0,
            **overrides,
        }
        app = create_balancer(BalancerSettings(**values))
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        self.balancer_app = app
        await eventually(lambda: _connected(provided_by(app, Balancer)), timeout=10)
        return app

    async def publish_event(self, body: EventBody, occurred_at: datetime | None = None) -> Envelope:
        envelope = Envelope.wrap(body)
        if occurred_at is not None:
            envelope = envelope.model_copy(update={"occurred_at": occurred_at})
        owner = publishers_of(EXCHANGE_SYNC, envelope.type)[0]
        await self.senders[owner].publish(
            EXCHANGE_SYNC,
            envelope.type,
            envelope.model_dump_json().encode(),
            message_id=str(envelope.event_id),
        )
        return envelope

    async def create_device(
        self,
        limit_kwh: float = 1000.0,
        owner_id: uuid.UUID | None = None,
        *,
        name: str | None = None,
        meter_id: str | None = None,
        silence_minutes: int | None = None,
        wait: bool = False,
    ) -> uuid.UUID:
        """A device as the devices service announces it; with `wait`, once monitoring has
        its copy (else `wait_for_devices`, several at once)."""
        device_id = uuid.uuid4()
        await self.publish_event(
            DeviceCreated(
                id=device_id,
                name=name or f"meter {device_id.hex[:4]}",
                owner_id=owner_id,
                max_hourly_kwh=limit_kwh,
                meter_id=meter_id,
                silence_minutes=silence_minutes,
            )
        )
        if wait:
            await self.wait_for_devices(device_id)
        return device_id

    async def wait_for_devices(self, *device_ids: uuid.UUID) -> None:
        async def known() -> bool:
            count = await self.db.fetchval(
                "SELECT count(*) FROM devices WHERE id = ANY($1::uuid[])", list(device_ids)
            )
            return bool(count == len(device_ids))

        await eventually(known, timeout=10)

    async def publish_reading(
        self, device_id: uuid.UUID | str | int, timestamp: datetime | str | int, value: Any
    ) -> None:
        """The seeds' format, as any AMQP client would send it: a uuid as its text, a meter
        id (`7`, `"gas-1"`) as given."""
        stamp = timestamp.isoformat() if isinstance(timestamp, datetime) else timestamp
        sent = str(device_id) if isinstance(device_id, uuid.UUID) else device_id
        body = {"device_id": sent, "timestamp": stamp, "measurement_value": value}
        await self.publish_raw(reading_routing_key(str(device_id)), json.dumps(body).encode())

    async def publish_raw(
        self, routing_key: str, body: bytes, headers: dict[str, Any] | None = None
    ) -> None:
        """As a meter would: to ems.data, confirmed."""
        await self.meter.publish(EXCHANGE_DATA, routing_key, body, headers=headers)

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
    return balancer.broker.is_connected()


@asynccontextmanager
async def running_pipeline(
    settings: MonitoringSettings, test_broker: TestBroker
) -> AsyncIterator[Pipeline]:
    """Its clients and database pool; the replicas and balancer started stop with it."""
    url = settings.amqp_url
    senders = {who: test_broker.client(url, who, f"test-{who}") for who in (DEVICES, USERS)}
    meter = test_broker.client(url, METER, "test-meter")
    for client in [*senders.values(), meter]:
        await client.connect()
    pool = await asyncpg.create_pool(to_libpq(settings.dsn()), min_size=1, max_size=4)
    async with AsyncExitStack() as stack:
        yield Pipeline(settings, senders, meter, pool, stack)
    await pool.close()
    for client in [*senders.values(), meter]:
        await client.close()


PARTITIONS = [partition_queue(i) for i in range(READING_PARTITIONS)]


async def partition_depth(channel: aio_pika.abc.AbstractChannel) -> int:
    """Readings waiting in all the partition queues together."""
    total = 0
    for name in PARTITIONS:
        declared = await channel.declare_queue(name, passive=True)
        total += declared.declaration_result.message_count or 0
    return total


class ReplicaProcess:
    """A monitoring replica as a real process (`ems serve monitoring`), to be SIGKILLed."""

    def __init__(self, settings: MonitoringSettings, instance: int) -> None:
        self.settings = settings
        self.instance = instance
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # Its output, shown if it dies at start.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    def start(self) -> None:
        s = self.settings
        env = {
            **os.environ,
            "EMS_PG_URL": s.pg_url,
            "EMS_DB_PREFIX": s.db_prefix,
            "EMS_AMQP_URL": s.amqp_url,
            "EMS_BROKER_USER_PREFIX": s.broker_user_prefix,
            "EMS_BROKER_SECRETS_DIR": str(s.broker_secrets_dir),
            "EMS_ENVIRONMENT": "test",
            "EMS_LOG_JSON": "false",
            "EMS_LOG_LEVEL": "WARNING",
            "EMS_INGEST_BATCH_MS": str(s.ingest_batch_ms),
            "EMS_READINGS_RETENTION_DAYS": str(s.readings_retention_days),
            "EMS_DEVICES_INTERNAL_URL": "",
            "EMS_USERS_INTERNAL_URL": "",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ems.cli",
                "serve",
                "monitoring",
                "--port",
                str(self.port),
                "--instance",
                str(self.instance),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            self.log.seek(0)
            output = self.log.read().decode(errors="replace")[-2000:]
            raise AssertionError(f"replica {self.instance} exited:\n{output}")
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                response = await client.get(f"http://127.0.0.1:{self.port}/health/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
