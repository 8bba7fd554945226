"""RabbitMQ's own CPU per reading for the routings an ingest design could use, with no EMS
process involved: one queue (the bare relay's), N partitions behind a consistent-hash
exchange, published to straight or through an exchange-to-exchange hop (as meters publish
to `ems.data` today). It answers "how cheap can the partitioned transport get on this
broker?" (docs/benchmarks.md, ingest).

One process publishes `--count` persistent messages (publisher confirms, `--window` in
flight, ~120-byte JSON bodies over 2,000 device routing keys) and consumes them on one
connection, acking in batches every 50 ms (one `multiple` ack per channel). The broker's
CPU comes from `/proc/<beam.smp>/stat` over the run; this process's own CPU is reported
apart. Every variant runs in a vhost of its own, removed afterwards.

    uv run python bench/broker_routing.py [--count 30000] [--partitions 1 8 16 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiormq
from _support import AMQP_HOST, begin, bench_arguments, cpu_seconds, finish, pids_named
from pamqp import commands as spec

from ems.common.messaging.topology import partition_queue


@dataclass(frozen=True)
class Variant:
    partitions: int  # 1: one plain queue bound to the topic exchange
    hop: bool  # publish to a topic exchange bound to the hash exchange (as ems.data is)
    queue_version: int = 1

    @property
    def name(self) -> str:
        if self.partitions == 1:
            return "one queue"
        route = "topic -> hash" if self.hop else "hash"
        return f"{route} -> {self.partitions} partitions (queue v{self.queue_version})"


def beam_cpu() -> float:
    return cpu_seconds(pids_named("beam.smp")[0])


async def declare(channel: Any, variant: Variant) -> tuple[str, list[str]]:
    """The variant's topology; returns the exchange to publish to and the queues."""
    await channel.exchange_declare("data", exchange_type="topic", durable=True)
    args = {"x-queue-version": variant.queue_version}
    if variant.partitions == 1:
        await channel.queue_declare("one", durable=True, arguments=args)
        await channel.queue_bind("one", "data", routing_key="device.*.reading")
        return "data", ["one"]
    await channel.exchange_declare("ring", exchange_type="x-consistent-hash", durable=True)
    if variant.hop:
        await channel.exchange_bind("ring", "data", routing_key="device.*.reading")
    queues = [partition_queue(i) for i in range(variant.partitions)]
    for name in queues:
        await channel.queue_declare(name, durable=True, arguments=args)
        await channel.queue_bind(name, "ring", routing_key="1")
    return ("data" if variant.hop else "ring"), queues


async def measure(url: str, variant: Variant, count: int, window: int) -> dict[str, Any]:
    setup = await aiormq.connect(url)
    exchange, queues = await declare(await setup.channel(), variant)
    consumer = await aiormq.connect(url)
    received = 0
    done = asyncio.Event()
    latest: dict[Any, int | None] = {}
    for name in queues:
        channel = await consumer.channel(publisher_confirms=False)
        # 3,000 unacked in all, as a replica holds across its partitions.
        await channel.basic_qos(prefetch_count=max(20, 3000 // len(queues)))
        latest[channel] = None

        async def on_message(message: Any, channel: Any = channel) -> None:
            nonlocal received
            received += 1
            latest[channel] = message.delivery.delivery_tag
            if received >= count:
                done.set()

        await channel.basic_consume(name, on_message)

    async def ack_every_50_ms() -> None:
        while True:
            await asyncio.sleep(0.05)
            for channel, tag in list(latest.items()):
                if tag is not None:
                    latest[channel] = None
                    await channel.basic_ack(tag, multiple=True)

    acker = asyncio.create_task(ack_every_50_ms())
    publisher = await aiormq.connect(url)
    out = await publisher.channel(publisher_confirms=True)
    devices = [str(uuid.uuid4()) for _ in range(2000)]
    properties = spec.Basic.Properties(delivery_mode=2, content_type="application/json")
    slots = asyncio.Semaphore(window)
    pending: set[asyncio.Task[None]] = set()

    async def publish(device: str) -> None:
        body = json.dumps(
            {
                "device_id": device,
                "timestamp": "2026-12-01T10:00:00+00:00",
                "measurement_value": 0.1,
            }
        ).encode()
        try:
            await out.basic_publish(
                body,
                exchange=exchange,
                routing_key=f"device.{device}.reading",
                properties=properties,
            )
        finally:
            slots.release()

    beam0, own0, started = beam_cpu(), time.process_time(), time.monotonic()
    for i in range(count):
        await slots.acquire()
        task = asyncio.create_task(publish(devices[i % len(devices)]))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.wait_for(done.wait(), 600)
    seconds = time.monotonic() - started
    beam, own = beam_cpu() - beam0, time.process_time() - own0
    acker.cancel()
    for connection in (publisher, consumer, setup):
        await connection.close()
    return {
        "variant": variant.name,
        "messages_per_s": round(count / seconds),
        "rabbitmq_cpu_ms_per_message": round(beam / count * 1000, 4),
        "client_cpu_ms_per_message": round(own / count * 1000, 4),
    }


def run_variant(variant: Variant, count: int, window: int) -> dict[str, Any]:
    vhost = f"ems-bench-routing-{uuid.uuid4().hex[:8]}"
    ctl = ["rabbitmqctl", "-q"]
    subprocess.run([*ctl, "add_vhost", vhost], check=True, capture_output=True)
    try:
        subprocess.run(
            [*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
        url = f"amqp://guest:guest@{AMQP_HOST}/{vhost}"
        return asyncio.run(measure(url, variant, count, window))
    finally:
        subprocess.run([*ctl, "delete_vhost", vhost], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--window", type=int, default=1000, help="unconfirmed at most")
    parser.add_argument("--partitions", type=int, nargs="+", default=[1, 8, 16, 64])
    bench_arguments(parser)
    args = parser.parse_args()
    report = begin(args, count=args.count, window=args.window)
    variants = [Variant(1, hop=False)]
    for n in (p for p in args.partitions if p > 1):
        variants.append(Variant(n, hop=True))
    if 64 in args.partitions:
        variants += [Variant(64, hop=False), Variant(64, hop=True, queue_version=2)]
    # The baseline once more at the end: the broker's figure drifts over a run.
    variants.append(Variant(1, hop=False))
    results = []
    for variant in variants:
        result = run_variant(variant, args.count, args.window)
        print(json.dumps(result), flush=True)
        results.append(result)
    base = [r["rabbitmq_cpu_ms_per_message"] for r in results if r["variant"] == "one queue"]
    baseline = sum(base) / len(base)
    for r in results:
        r["rabbitmq_cpu_vs_one_queue"] = round(r["rabbitmq_cpu_ms_per_message"] / baseline, 2)
    report["results"] = results
    finish(args, report)


if __name__ == "__main__":
    main()
