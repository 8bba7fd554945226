"""A replica's ingest queue, consumed in batches.

Deliveries collect until the batch holds `ingest_batch_size` readings or `ingest_batch_ms`
passed since its first one. The batch is parsed (bad input is dead-lettered with its
reason), written in one transaction, and only then acked: one `multiple` ack per channel
covers the whole batch. A crash anywhere before the ack means redelivery, which the unique
(device, timestamp) key turns into no change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pamqp import commands as spec

from ems.common.amqplink import AmqpLink, declare_exchanges, declare_queue_with_dlq
from ems.common.bus import DEAD_LETTERED, EXCHANGE_DATA, EXCHANGE_DLX, REASON_HEADER
from ems.contracts.ingest import (
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    SENT_AT_HEADER,
    ingest_queue,
)
from ems.contracts.readings import reading_routing_key
from ems.monitoring.metrics import ALERTS, BATCH_SIZE, FLUSH_SECONDS, READINGS, STORE_LATENCY
from ems.monitoring.parsing import BadReading, ReadingParser, to_micro_kwh
from ems.monitoring.settings import MonitoringSettings
from ems.monitoring.store import AlertKey, ReadingRow, StoreResult, store_readings

log = logging.getLogger(__name__)

# Remembered alerts (not tried again) before the memory starts over.
_ALERTED_LIMIT = 100_000

_TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.OperatorInterventionError,
    asyncpg.LockNotAvailableError,
)

Committed = Callable[[StoreResult], None]


class Intake:
    def __init__(
        self, settings: MonitoringSettings, pool: asyncpg.Pool, on_committed: Committed
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.on_committed = on_committed
        self.queue = ingest_queue(settings.instance)
        self.parser = ReadingParser(settings)
        self.over_limit_micro_kwh = (
            to_micro_kwh(settings.over_limit_kwh) if settings.over_limit_kwh is not None else None
        )
        self.link = AmqpLink(
            settings.amqp_url, f"monitoring-{settings.instance}-ingest", self._on_connect
        )
        self.alerted: set[AlertKey] = set()
        self._batch: list[Any] = []
        self._first_at = 0.0
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._dead_letters: Any = None
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._run(), name="monitoring-intake")
        self.link.start()

    async def stop(self) -> None:
        await self.link.stop()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    async def _on_connect(self, connection: Any) -> None:
        channel = await connection.channel(publisher_confirms=False)
        await declare_exchanges(channel)
        await declare_queue_with_dlq(channel, self.queue)
        await channel.basic_qos(prefetch_count=self.settings.ingest_prefetch)
        self._dead_letters = await connection.channel(publisher_confirms=True)
        await channel.basic_consume(self.queue, self._on_delivery)

    async def _on_delivery(self, message: Any) -> None:
        self._batch.append(message)
        if len(self._batch) == 1:
            self._first_at = time.monotonic()
            self._arrived.set()
        if len(self._batch) >= self.settings.ingest_batch_size:
            self._full.set()

    async def _run(self) -> None:
        window = self.settings.ingest_batch_ms / 1000
        while True:
            await self._arrived.wait()
            remaining = self._first_at + window - time.monotonic()
            if remaining > 0 and len(self._batch) < self.settings.ingest_batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), remaining)
            batch, self._batch = self._batch, []
            self._arrived.clear()
            self._full.clear()
            try:
                await self.flush(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("batch failed; its readings will be delivered again")
                await asyncio.sleep(1.0)
                await self._settle(batch, requeue=True)

    async def flush(self, messages: list[Any]) -> None:
        started = time.perf_counter()
        # Deliveries of a channel that has closed come again on the new one.
        messages = [m for m in messages if not m.channel.is_closed]
        if not messages:
            return
        now = datetime.now(UTC)
        rows: dict[tuple[Any, datetime], ReadingRow] = {}
        first_message: dict[tuple[Any, datetime], Any] = {}
        bad: list[tuple[Any, str]] = []
        for message in messages:
            try:
                row = self.parser.parse(message.body, now)
            except BadReading as exc:
                bad.append((message, str(exc)))
                continue
            key = (row.device_id, row.ts)
            if key not in rows:
                rows[key] = row
                first_message[key] = message
        try:
            result = await self._store(list(rows.values()))
        except Exception as exc:
            log.warning("batch refused by the database; storing its readings one by one: %r", exc)
            result = await self._store_one_by_one(rows, first_message, bad)
        bad += [
            (first_message[(r.device_id, r.ts)], "device deleted")
            for r in result.of_deleted_devices
        ]
        await self._dead_letter(bad)
        await self._settle(messages)
        self._count(result, len(messages), len(rows), bad)
        self._observe_latency(messages)
        self.on_committed(result)
        FLUSH_SECONDS.observe(time.perf_counter() - started)

    async def _store(self, rows: list[ReadingRow]) -> StoreResult:
        """One transaction; waits out a database outage (the deliveries stay unacked)."""
        pause = 0.2
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    result = await store_readings(
                        conn,
                        rows,
                        over_limit_micro_kwh=self.over_limit_micro_kwh,
                        alerted=self.alerted,
                    )
            except _TRANSIENT as exc:
                log.warning("database unavailable; retrying the batch: %r", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            self._remember_alerts(result.alerts_seen)
            return result

    async def _store_one_by_one(
        self,
        rows: dict[tuple[Any, datetime], ReadingRow],
        first_message: dict[tuple[Any, datetime], Any],
        bad: list[tuple[Any, str]],
    ) -> StoreResult:
        total = StoreResult()
        for key, row in rows.items():
            try:
                one = await self._store([row])
            except Exception as exc:
                bad.append((first_message[key], f"not storable: {exc!r}"[:500]))
                continue
            total.stored += one.stored
            total.duplicates += one.duplicates
            total.unmatched += one.unmatched
            total.of_deleted_devices += one.of_deleted_devices
            total.hours += one.hours
            total.alerts_raised += one.alerts_raised
        return total

    def _remember_alerts(self, keys: list[AlertKey]) -> None:
        if len(self.alerted) + len(keys) > _ALERTED_LIMIT:
            self.alerted.clear()
        self.alerted.update(keys)

    async def _dead_letter(self, bad: list[tuple[Any, str]]) -> None:
        """Publish refused readings to `<queue>.dlq` with their reason; wait for confirms."""
        if not bad:
            return
        publishes = []
        for message, reason in bad:
            headers = dict(message.header.properties.headers or {})
            headers[REASON_HEADER] = reason[:1000]
            exchange, routing_key = _published_as(message)
            headers.setdefault(ORIGINAL_EXCHANGE_HEADER, exchange)
            headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, routing_key)
            publishes.append(
                self._dead_letters.basic_publish(
                    message.body,
                    exchange=EXCHANGE_DLX,
                    routing_key=self.queue,
                    properties=spec.Basic.Properties(
                        delivery_mode=2,
                        content_type=message.header.properties.content_type,
                        message_id=message.header.properties.message_id,
                        headers=headers,
                    ),
                )
            )
        await asyncio.gather(*publishes)
        DEAD_LETTERED.labels(self.queue).inc(len(bad))
        log.warning(
            "readings dead-lettered",
            extra={"queue": self.queue, "count": len(bad), "first_reason": bad[0][1][:200]},
        )

    async def _settle(self, messages: list[Any], *, requeue: bool = False) -> None:
        """Ack the batch (or give it back to the queue).

        Batches are written in delivery order, so every earlier delivery of a channel is
        settled already: one `multiple` ack (or nack) per channel covers the batch."""
        last: dict[int, Any] = {}
        for message in messages:
            last[id(message.channel)] = message
        for message in last.values():
            tag = message.delivery.delivery_tag
            # A closed channel's deliveries are back in the queue already.
            with contextlib.suppress(Exception):
                if requeue:
                    await message.channel.basic_nack(tag, multiple=True, requeue=True, wait=False)
                else:
                    await message.channel.basic_ack(tag, multiple=True, wait=False)

    def _count(
        self, result: StoreResult, received: int, distinct: int, bad: list[tuple[Any, str]]
    ) -> None:
        BATCH_SIZE.observe(received)
        READINGS.labels("stored").inc(result.stored)
        # Repeats inside the batch and repeats of readings stored before.
        READINGS.labels("duplicate").inc(received - len(bad) - distinct + result.duplicates)
        READINGS.labels("unmatched").inc(result.unmatched)
        READINGS.labels("deleted_device").inc(len(result.of_deleted_devices))
        READINGS.labels("invalid").inc(len(bad) - len(result.of_deleted_devices))
        for kind in result.alerts_raised:
            ALERTS.labels(kind).inc()

    def _observe_latency(self, messages: list[Any]) -> None:
        now_us = time.time_ns() // 1000
        for message in messages:
            headers = message.header.properties.headers
            if headers:
                sent_at = headers.get(SENT_AT_HEADER)
                if isinstance(sent_at, int) and not isinstance(sent_at, bool):
                    STORE_LATENCY.observe(max(0, now_us - sent_at) / 1_000_000)


def _published_as(message: Any) -> tuple[str, str]:
    """Where a refused reading was first published, for whoever reads the dead letters.

    The balancer forwards readings unchanged (adding nothing to the hot path): a reading
    that came through it was published to ems.data as `device.<id>.reading`, and the id
    is recovered from the body when it can be."""
    exchange, routing_key = message.delivery.exchange or "", message.delivery.routing_key or ""
    if exchange or not routing_key.startswith("monitoring.ingest."):
        return exchange, routing_key
    try:
        device = json.loads(message.body).get("device_id")
    except (ValueError, AttributeError):
        device = None
    if isinstance(device, str):
        return EXCHANGE_DATA, reading_routing_key(device)
    return EXCHANGE_DATA, "device.?.reading"
