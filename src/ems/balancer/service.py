"""The balancer: consumes the raw readings queue and forwards each reading, unchanged, to the
ingest queue of one monitoring replica; acks it only after the broker confirmed the forward.

Replicas are fixed in number (`EMS_MONITORING_REPLICAS`, by default the monitoring spec's
`replicas`); whether one is alive is read from its ingest queue's consumer count (a passive
declare) every check interval. When a replica has had no consumer for
`replica_gone_after_seconds`, it leaves the routing set: its devices move to the survivors,
and the balancer drains what was already waiting in its queue to them. When a consumer
appears on its queue again, it rejoins and its devices move back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from pamqp import commands as spec
from prometheus_client import Counter, Gauge

from ems.balancer.acks import InOrderAcks
from ems.balancer.liveness import ReplicaWatch
from ems.balancer.ring import make_strategy
from ems.balancer.settings import BalancerSettings
from ems.common.amqplink import (
    AmqpLink,
    BatchPublisher,
    declare_exchanges,
    declare_queue_with_dlq,
)
from ems.common.bus import EXCHANGE_DATA
from ems.contracts.ingest import (
    RAW_READINGS_BINDING,
    RAW_READINGS_QUEUE,
    device_key,
    ingest_queue,
)

log = logging.getLogger(__name__)

FORWARDED = Counter("ems_balancer_forwarded_total", "Readings forwarded", ["replica"])
REQUEUED = Counter("ems_balancer_requeued_total", "Readings put back after a failed forward")
REPLICA_UP = Gauge("ems_balancer_replica_up", "1 while a replica receives readings", ["replica"])
REBALANCES = Counter("ems_balancer_rebalances_total", "Changes of the set of live replicas")


class Balancer:
    def __init__(self, settings: BalancerSettings) -> None:
        self.settings = settings
        count = settings.replica_count()
        self.queues = [ingest_queue(i) for i in range(count)]
        self.watch = ReplicaWatch(count, settings.replica_gone_after_seconds, time.monotonic())
        self.strategy = make_strategy(
            settings.balancer_strategy, range(count), settings.balancer_virtual_nodes
        )
        self.link = AmqpLink(
            settings.amqp_url,
            f"balancer-{settings.instance}",
            self._on_connect,
            self._on_disconnect,
        )
        self._connection: Any = None
        self._publisher: Any = None
        self._control: Any = None
        self._drains: dict[int, tuple[Any, str]] = {}
        self._checker: asyncio.Task[None] | None = None
        self._forwarded = [FORWARDED.labels(str(i)) for i in range(count)]
        for i in range(count):
            REPLICA_UP.labels(str(i)).set(1)

    async def start(self) -> None:
        self.link.start()
        self._checker = asyncio.create_task(self._check_loop(), name="balancer-liveness")

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        await self.link.stop()

    def alive(self) -> frozenset[int]:
        return self.watch.routable()

    async def _on_connect(self, connection: Any) -> None:
        control = await connection.channel(publisher_confirms=False)
        await declare_exchanges(control)
        await declare_queue_with_dlq(
            control, RAW_READINGS_QUEUE, [(EXCHANGE_DATA, RAW_READINGS_BINDING)]
        )
        for queue in self.queues:
            await declare_queue_with_dlq(control, queue)
        self._connection = connection
        self._control = control
        self._publisher = BatchPublisher(await connection.channel(publisher_confirms=True))
        await self._consume(RAW_READINGS_QUEUE)
        for replica in self.watch.gone():
            await self._start_drain(replica)

    def _on_disconnect(self) -> None:
        self._connection = self._publisher = self._control = None
        self._drains.clear()

    async def _consume(self, queue: str) -> tuple[Any, str]:
        channel = await self._connection.channel(publisher_confirms=False)
        await channel.basic_qos(prefetch_count=self.settings.balancer_prefetch)
        acks = InOrderAcks(channel)

        async def on_delivery(message: Any) -> None:
            await self._forward(message, acks)

        ok = await channel.basic_consume(queue, on_delivery)
        return channel, ok.consumer_tag

    async def _forward(self, message: Any, acks: InOrderAcks) -> None:
        slot = acks.add(message.delivery.delivery_tag)
        properties: spec.Basic.Properties = message.header.properties
        routing_key: str = message.delivery.routing_key or ""
        if routing_key.startswith("device."):
            replica = self.strategy.pick(device_key(routing_key))
        else:
            # A reading drained from a gone replica's queue: its routing key is the queue's
            # name, so the device comes from the body (rare; the hot path never parses).
            replica = self.strategy.pick(device_in_body(message.body))
        # Persistent whatever the publisher chose: the reading now waits in a durable queue.
        properties.delivery_mode = 2
        try:
            await self._publisher.publish(
                message.body,
                exchange="",
                routing_key=self.queues[replica],
                properties=properties,
                mandatory=True,
            )
        except Exception as exc:
            REQUEUED.inc()
            log.warning("forward failed; the reading goes back to its queue: %r", exc)
            # A missing queue would bounce the reading straight back: pause first.
            await asyncio.sleep(1.0)
            slot.set_exception(exc)
            return
        self._forwarded[replica].inc()
        slot.set_result(None)

    async def _check_loop(self) -> None:
        interval = self.settings.replica_check_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_replicas()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("replica check failed", exc_info=True)

    async def check_replicas(self) -> None:
        """Read each ingest queue's consumer count and re-route when a replica came or went."""
        if not self.link.is_connected() or self._control is None:
            return
        now = time.monotonic()
        changed = False
        for replica, queue in enumerate(self.queues):
            consumers = await self._consumers(queue)
            # Our own drain consumer on a gone replica's queue is not the replica.
            if replica in self._drains:
                consumers -= 1
            changed |= self.watch.observe(replica, consumers > 0, now)
        if changed:
            await self._apply_membership()

    async def _consumers(self, queue: str) -> int:
        try:
            ok = await self._control.queue_declare(queue, passive=True)
        except Exception:
            # A passive declare of a missing queue closes the channel: declare it again.
            self._control = await self._connection.channel(publisher_confirms=False)
            await declare_queue_with_dlq(self._control, queue)
            return 0
        return int(ok.consumer_count)

    async def _apply_membership(self) -> None:
        routable = self.watch.routable()
        self.strategy.set_members(routable)
        REBALANCES.inc()
        for replica in range(len(self.queues)):
            REPLICA_UP.labels(str(replica)).set(1 if replica in self.watch.alive else 0)
        log.warning(
            "monitoring replicas changed",
            extra={"alive": sorted(self.watch.alive), "routing_to": sorted(routable)},
        )
        for replica in self.watch.gone():
            if replica not in self._drains:
                await self._start_drain(replica)
        for replica in list(self._drains):
            if replica not in self.watch.gone():
                await self._stop_drain(replica)

    async def _start_drain(self, replica: int) -> None:
        log.warning("replica gone: draining its queue to the others", extra={"replica": replica})
        self._drains[replica] = await self._consume(self.queues[replica])

    async def _stop_drain(self, replica: int) -> None:
        channel, tag = self._drains.pop(replica)
        with contextlib.suppress(Exception):
            await channel.basic_cancel(tag)
        # Forwards still in flight ack on this channel; close it once they have settled.
        asyncio.get_running_loop().call_later(
            10.0, lambda: asyncio.ensure_future(_close_quietly(channel))
        )


def device_in_body(body: bytes) -> str:
    try:
        device = json.loads(body).get("device_id")
    except (ValueError, AttributeError):
        return ""
    return device if isinstance(device, str) else ""


async def _close_quietly(channel: Any) -> None:
    with contextlib.suppress(Exception):
        await channel.close()
