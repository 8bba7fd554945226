"""The reading partitions this replica is assigned, consumed in batches.

Each assigned partition queue (`readings.<nn>`) is consumed on a channel of its own, as its
only consumer (exclusive), so a device's readings are written by one replica at a time, in
order. Deliveries collect until the batch holds `ingest_batch_size` readings or
`ingest_batch_ms` passed since its first one. Then, for the batch:

1. each delivery passes the gate (size limit, counted redeliveries) and is parsed under a
   catch-all: whatever a body does to the parser, that one reading is dead-lettered with
   the reason and the rest go on;
2. the rows are written in one transaction; a dependency outage is waited out (the batch
   held), a refusal splits the batch in halves until the rows the database refuses are
   single and dead-lettered;
3. readings of deleted devices are dead-lettered (confirmed) before anything is acked;
4. one `multiple` ack per channel settles the batch; only then is it counted and reported.
Nothing is ever nacked back to its queue: a crash means redelivery, which the unique
(device, timestamp) key turns into no change, and which the delivery limit bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from sqlalchemy import Table

from ems.common.db import Database
from ems.common.messaging.consume import Delivery, Gate, Policy, is_transient, settle
from ems.common.messaging.credentials import connection_url
from ems.common.messaging.deadletters import DeadLetters
from ems.common.messaging.link import Link
from ems.common.messaging.metrics import QUEUE_CONSUMERS, QUEUE_MESSAGES, count, gauge
from ems.common.messaging.publisher import Publisher
from ems.common.messaging.topology import (
    MONITORING,
    READING_PARTITIONS,
    dead_letter_queue,
    partition_queue,
    queue,
)
from ems.common.tasks import Background, every
from ems.contracts.ingest import SENT_AT_HEADER
from ems.monitoring.ingest.metrics import (
    ALERTS,
    BATCH_SIZE,
    FLUSH_SECONDS,
    OLDEST_UNACKED,
    READINGS,
    STORE_LATENCY,
)
from ems.monitoring.ingest.parsing import BadReading, ReadingParser, to_micro_kwh
from ems.monitoring.ingest.store import AlertKey, ReadingRow, StoreResult, store_readings
from ems.monitoring.settings import MonitoringSettings

log = logging.getLogger(__name__)

# Remembered alerts (not tried again) before the memory starts over.
_ALERTED_LIMIT = 100_000
DEAD_LETTER_KEY = "readings"
DEAD_LETTERS = dead_letter_queue(DEAD_LETTER_KEY)
QUEUE_OBSERVE_SECONDS = 5.0
# A batch failing (the database away or refusing) this recently makes the replica unready.
_FAILURE_MEMORY = 10.0

Committed = Callable[[StoreResult], None]


@dataclass
class _Partition:
    index: int
    channel: AbstractChannel | None = None
    consumer_tag: str | None = None
    since: float = 0.0


class Intake:
    def __init__(
        self, settings: MonitoringSettings, db: Database, outbox: Table, on_committed: Committed
    ) -> None:
        self.settings = settings
        self.db = db
        self.outbox = outbox
        self.on_committed = on_committed
        self.parser = ReadingParser(settings)
        self.over_limit_micro_kwh = (
            to_micro_kwh(settings.over_limit_kwh) if settings.over_limit_kwh is not None else None
        )
        self.link = Link(
            connection_url(settings, MONITORING), f"monitoring-{settings.instance}-ingest"
        )
        self.dead_letters = DeadLetters(Publisher(self.link))
        self.policy = Policy(
            settings.broker_max_message_bytes,
            settings.broker_delivery_limit,
            # Readings come from meters: ems.data has no owner to check.
            senders=lambda exchange, routing_key: frozenset(),
        )
        self.link.on_connect(self._on_connect, self._on_disconnect)
        self.alerted: set[AlertKey] = set()
        # What the balancer assigned: these partitions, and whether alone or shared.
        self.assigned: frozenset[int] = frozenset()
        self.shared = False
        self.partitions: dict[int, _Partition] = {}
        self._control: AbstractChannel | None = None
        self._batch: list[tuple[Delivery, float]] = []
        self._first_at = 0.0
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._changed = asyncio.Event()
        self._closing: set[asyncio.Future[None]] = set()
        # The deliveries of the batch being written, and channels whose close has begun
        # (nothing may be sent on them after their Channel.Close: it ends the connection).
        self._flushing: list[Delivery] = []
        self._letting_go: set[int] = set()
        # Notified after every batch.
        self._flushed = asyncio.Condition()
        self._flusher = Background("monitoring-intake")
        self._keeper = Background("monitoring-partitions")
        self._observer = Background("monitoring-queue-depths")
        self.last_failure: float | None = None
        self.last_failure_reason = ""

    async def start(self) -> None:
        self._flusher.start(self._run())
        self._keeper.start(self._keep_partitions())
        self._observer.start(every(QUEUE_OBSERVE_SECONDS, self.observe_queues, "queue depths"))
        self.link.start()

    async def stop(self) -> None:
        await self._observer.stop()
        await self._keeper.stop()
        await self.link.stop()
        await self._flusher.stop()

    # --- what the balancer says ----------------------------------------------------------

    def assign(self, partitions: frozenset[int], shared: bool) -> None:
        """Consume exactly these partitions from now on."""
        partitions = frozenset(p for p in partitions if 0 <= p < READING_PARTITIONS)
        if partitions == self.assigned and shared == self.shared:
            return
        if shared != self.shared:
            for index in list(self.partitions):
                self._release(index)
        self.assigned, self.shared = partitions, shared
        for index in list(self.partitions):
            if index not in partitions:
                self._release(index)
        log.info(
            "replica %s assigned %d partitions (shared: %s)",
            self.settings.instance,
            len(partitions),
            shared,
        )
        self._changed.set()

    def consuming(self) -> frozenset[int]:
        return frozenset(
            i
            for i, p in self.partitions.items()
            if p.channel is not None and not p.channel.is_closed
        )

    def problems(self) -> list[str]:
        """Why this replica's ingest is not working now (empty when it is)."""
        problems: list[str] = []
        if not self.link.is_connected():
            problems.append(
                f"ingest: not connected to the broker ({self.link.last_problem or 'connecting'})"
            )
            return problems
        now = time.monotonic()
        grace = self.settings.ingest_consumer_grace_seconds
        missing = [
            i
            for i in self.assigned
            if i not in self.consuming()
            and now - self.partitions.get(i, _Partition(i, since=now)).since > grace
        ]
        if missing:
            problems.append(f"ingest: no consumer on assigned partitions {sorted(missing)[:8]}")
        if self.last_failure is not None and now - self.last_failure < _FAILURE_MEMORY:
            problems.append(f"ingest: batches failing ({self.last_failure_reason})")
        oldest = self.oldest_unacked()
        if oldest > 60.0:
            problems.append(f"ingest: a reading has waited {oldest:.0f} s unacknowledged")
        return problems

    def oldest_unacked(self) -> float:
        if not self._batch:
            return 0.0
        return time.monotonic() - self._batch[0][1]

    async def observe_queues(self) -> None:
        """Depth and consumers of every partition and of the readings' dead letters, as the
        broker says now (metrics to alert on: a partition nobody consumes, a growing one)."""
        control = self._control
        if control is None or control.is_closed or not self.link.is_connected():
            return
        for q in [*(queue(partition_queue(i)) for i in range(READING_PARTITIONS)), DEAD_LETTERS]:
            declared = await control.queue_declare(q.name, durable=True, arguments=q.arguments())
            gauge(QUEUE_MESSAGES, declared.message_count or 0, q.name)
            gauge(QUEUE_CONSUMERS, declared.consumer_count or 0, q.name)

    # --- partition consumers --------------------------------------------------------------

    async def _on_connect(self, _: AbstractConnection) -> None:
        self._control = await self.link.channel(confirms=False)
        self._changed.set()

    def _on_disconnect(self) -> None:
        self._control = None
        self.partitions.clear()
        self._batch.clear()

    def _release(self, index: int) -> None:
        """Stop consuming a partition (see `_let_go`)."""
        partition = self.partitions.pop(index, None)
        if partition is None or partition.channel is None:
            return
        closing = asyncio.ensure_future(self._let_go(partition.channel, partition.consumer_tag))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _let_go(self, channel: AbstractChannel, consumer_tag: str | None) -> None:
        """No more deliveries from now on; the ones taken are written and acked with their
        batch; then the channel closes, and whatever it still holds unacked (a delivery on
        its way while the consumer was cancelled) goes back to the head of the queue."""
        if consumer_tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.basic_cancel(consumer_tag), 5.0)
        with contextlib.suppress(TimeoutError):
            async with self._flushed:
                await asyncio.wait_for(
                    self._flushed.wait_for(lambda: not self._holds(channel)), 30.0
                )
        self._letting_go.add(id(channel))
        try:
            await self.link.close_channel(channel)
        finally:
            self._letting_go.discard(id(channel))

    def _holds(self, channel: AbstractChannel) -> bool:
        """Whether a delivery of this channel waits in a batch or is being written."""
        return any(d.channel is channel for d, _ in self._batch) or any(
            d.channel is channel for d in self._flushing
        )

    async def _keep_partitions(self) -> None:
        """Consume every assigned partition that is not consumed yet (waiting until its
        previous owner let go)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.5)
            self._changed.clear()
            if not self.link.is_connected():
                continue
            for index in sorted(self.assigned - self.consuming()):
                try:
                    await self._consume(index)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.info(
                        "replica %s: partition %s not consumed yet: %r",
                        self.settings.instance,
                        index,
                        exc,
                    )

    async def _consume(self, index: int) -> None:
        name = partition_queue(index)
        partition = self.partitions.setdefault(index, _Partition(index, since=time.monotonic()))
        control = self._control
        if control is None or control.is_closed:
            self._control = control = await self.link.channel(confirms=False)
        declared = await control.queue_declare(
            name, durable=True, arguments=queue(name).arguments()
        )
        if not self.shared and declared.consumer_count:
            return  # its previous owner has not let go yet
        prefetch = max(20, self.settings.ingest_prefetch // max(1, len(self.assigned)))

        def lost(channel: AbstractChannel, exc: BaseException | None) -> None:
            if self.partitions.get(index) is partition and partition.channel is channel:
                partition.channel = None
                self._batch = [(d, at) for d, at in self._batch if d.channel is not channel]
                self._changed.set()

        channel = await self.link.channel(confirms=False, prefetch=prefetch, on_lost=lost)
        partition.channel = channel
        consuming = await channel.basic_consume(
            name, partial(self._on_delivery, name), exclusive=not self.shared
        )
        partition.consumer_tag = consuming.consumer_tag

    async def _on_delivery(self, name: str, message: DeliveredMessage) -> None:
        self._batch.append((Delivery.of(message, name), time.monotonic()))
        if len(self._batch) == 1:
            self._first_at = time.monotonic()
            self._arrived.set()
        if len(self._batch) >= self.settings.ingest_batch_size:
            self._full.set()

    # --- batches ------------------------------------------------------------------------

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
            if batch:
                gauge(OLDEST_UNACKED, time.monotonic() - batch[0][1])
            try:
                await self.flush([d for d, _ in batch])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Dead letters could not be published (the broker is in trouble): nothing
                # was acked, the deliveries come back on a new connection, counted.
                self._failed(exc)
                log.exception("batch not settled; its readings will be delivered again")
                self.link.restart(f"a batch could not be settled: {exc!r}"[:300])
            gauge(OLDEST_UNACKED, self.oldest_unacked())

    async def flush(self, deliveries: list[Delivery]) -> None:
        self._flushing = deliveries
        try:
            await self._flush(deliveries)
        finally:
            self._flushing = []
            async with self._flushed:
                self._flushed.notify_all()

    async def _flush(self, deliveries: list[Delivery]) -> None:
        started = time.perf_counter()
        gate = Gate(DEAD_LETTER_KEY, self.policy, self.dead_letters)
        now = datetime.now(UTC)
        rows: dict[tuple[Any, datetime], ReadingRow] = {}
        first: dict[tuple[Any, datetime], Delivery] = {}
        bad: list[tuple[Delivery, str]] = []
        recount: list[Delivery] = []
        live = [d for d in deliveries if not d.channel.is_closed]
        for delivery in live:
            reason = gate.check_size(delivery)
            if reason is None and delivery.redelivered:
                recount.append(delivery)
                continue
            if reason is None:
                try:
                    row = self.parser.parse(delivery.body, now)
                except BadReading as exc:
                    reason = str(exc)
                except Exception as exc:  # anything a body can do to a parser
                    reason = f"unreadable reading: {type(exc).__name__}: {exc}"[:500]
            if reason is not None:
                bad.append((delivery, reason))
                continue
            key = (row.device_id, row.ts)
            if key not in rows:
                rows[key] = row
                first[key] = delivery
        result, refused = await self._store_isolating(list(rows.values()))
        bad += [(first[(r.device_id, r.ts)], reason) for r, reason in refused]
        deleted = [
            (first[(r.device_id, r.ts)], "device deleted") for r in result.of_deleted_devices
        ]
        # Everything that is not stored goes where it must, confirmed, before any ack.
        await self.dead_letters.dead_letter(bad, DEAD_LETTER_KEY, "invalid", ack=False)
        await self.dead_letters.dead_letter(deleted, DEAD_LETTER_KEY, "device_deleted", ack=False)
        # A reading that kills its replica cannot come back forever.
        await gate.recount(recount, ack=False)
        await _ack_all(live, self._letting_go)
        self._report(result, len(live) - len(recount), len(rows), len(bad), live)
        FLUSH_SECONDS.observe(time.perf_counter() - started)

    async def _store_isolating(
        self, rows: list[ReadingRow]
    ) -> tuple[StoreResult, list[tuple[ReadingRow, str]]]:
        """Store the rows; a batch the database refuses is split until the refused rows are
        single (and returned with the reason)."""
        try:
            return await self._store(rows), []
        except Exception as exc:
            if len(rows) <= 1:
                return StoreResult(), [(row, f"not storable: {exc!r}"[:500]) for row in rows]
            log.warning("batch of %d refused by the database; splitting it: %r", len(rows), exc)
        middle = len(rows) // 2
        left, left_refused = await self._store_isolating(rows[:middle])
        right, right_refused = await self._store_isolating(rows[middle:])
        left.merge(right)
        return left, left_refused + right_refused

    async def _store(self, rows: list[ReadingRow]) -> StoreResult:
        """One transaction; waits out a database outage (the deliveries stay unacked)."""
        pause = 0.2
        while True:
            try:
                async with self.db.transaction() as session:
                    result = await store_readings(
                        session,
                        self.outbox,
                        rows,
                        over_limit_micro_kwh=self.over_limit_micro_kwh,
                        alerted=self.alerted,
                        held_per_device=self.settings.held_per_device,
                        replica=str(self.settings.instance),
                    )
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._failed(exc)
                log.warning("database unavailable; retrying the batch: %r", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            self._remember_alerts(result.alerts_seen)
            return result

    def _failed(self, exc: BaseException) -> None:
        self.last_failure = time.monotonic()
        self.last_failure_reason = f"{type(exc).__name__}: {exc}"[:200]

    def _remember_alerts(self, keys: list[AlertKey]) -> None:
        if len(self.alerted) + len(keys) > _ALERTED_LIMIT:
            self.alerted.clear()
        self.alerted.update(keys)

    def _report(
        self,
        result: StoreResult,
        received: int,
        distinct: int,
        refused: int,
        deliveries: list[Delivery],
    ) -> None:
        """Counting and the committed-callback, after the acks: they never raise."""
        try:
            BATCH_SIZE.observe(received)
            count(READINGS, "stored", amount=result.stored)
            # Repeats inside the batch and repeats of readings stored before.
            count(READINGS, "duplicate", amount=received - refused - distinct + result.duplicates)
            count(READINGS, "unmatched", amount=result.unmatched)
            count(READINGS, "held_dropped", amount=result.held_dropped)
            count(READINGS, "deleted_device", amount=len(result.of_deleted_devices))
            count(READINGS, "invalid", amount=refused)
            for kind in result.alerts_raised:
                count(ALERTS, kind)
            _observe_latency(deliveries)
            self.on_committed(result)
        except Exception:
            log.exception("a stored batch could not be reported")


async def _ack_all(deliveries: list[Delivery], closing: set[int]) -> None:
    """One `multiple` ack per channel: batches are written in delivery order, so every
    earlier delivery of a channel is settled already. None on a channel closed or closing:
    its deliveries are back in the queue (stored ones dedup)."""
    last: dict[int, Delivery] = {}
    for delivery in deliveries:
        last[id(delivery.channel)] = delivery
    for delivery in last.values():
        if id(delivery.channel) not in closing:
            await settle(delivery, multiple=True)


def _observe_latency(deliveries: list[Delivery]) -> None:
    now_us = time.time_ns() // 1000
    for delivery in deliveries:
        sent_at = delivery.headers.get(SENT_AT_HEADER)
        if isinstance(sent_at, int) and not isinstance(sent_at, bool):
            STORE_LATENCY.observe(max(0, now_us - sent_at) / 1_000_000)
