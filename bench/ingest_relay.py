"""The baseline of bench/ingest.py: the same readings through two queue hops with no
processing at all, built from the same client and the same guarantees as the pipeline.

    relay: consumes `readings.raw`, forwards each message unchanged to `bench.relay.<i>`
           (alternating), with publisher confirms; acks a delivery once its forward is
           confirmed (in order, `multiple` acks), exactly as the balancer does.
    sink:  consumes `bench.relay.<i>`, acks in batches (up to 1000 or 50 ms, one
           `multiple` ack), as a monitoring replica does, but parses and stores nothing.

    uv run python bench/ingest_relay.py relay --sinks 2
    uv run python bench/ingest_relay.py sink --queue 0 --expect 100000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
from typing import Any

import uvloop
from ems.balancer.acks import InOrderAcks
from ems.common.amqplink import AmqpLink, BatchPublisher, declare_exchanges, declare_queue_with_dlq

from ems.common.messaging import EXCHANGE_DATA
from ems.contracts.ingest import RAW_READINGS_BINDING, RAW_READINGS_QUEUE, SENT_AT_HEADER


def sink_queue(i: int) -> str:
    return f"bench.relay.{i}"


async def relay(url: str, sinks: int, prefetch: int) -> None:
    targets = itertools.cycle([sink_queue(i) for i in range(sinks)])

    async def on_connect(connection: Any) -> None:
        channel = await connection.channel(publisher_confirms=False)
        await declare_exchanges(channel)
        await declare_queue_with_dlq(
            channel, RAW_READINGS_QUEUE, [(EXCHANGE_DATA, RAW_READINGS_BINDING)]
        )
        for i in range(sinks):
            await declare_queue_with_dlq(channel, sink_queue(i))
        await channel.basic_qos(prefetch_count=prefetch)
        publisher = BatchPublisher(await connection.channel(publisher_confirms=True))
        acks = InOrderAcks(channel)

        async def on_delivery(message: Any) -> None:
            slot = acks.add(message.delivery.delivery_tag)
            try:
                await publisher.publish(
                    message.body,
                    exchange="",
                    routing_key=next(targets),
                    properties=message.header.properties,
                    mandatory=True,
                )
            except Exception as exc:
                slot.set_exception(exc)
            else:
                slot.set_result(None)

        await channel.basic_consume(RAW_READINGS_QUEUE, on_delivery)
        print("ready", flush=True)

    link = AmqpLink(url, "bench-relay", on_connect)
    link.start()
    await asyncio.Event().wait()


async def sink(url: str, queue: str, expect: int, batch: int, window_ms: int) -> None:
    """Counts deliveries until `expect` arrived; prints timing and latency as JSON."""
    received = 0
    first = last = 0.0
    latencies: list[float] = []
    pending: list[Any] = []
    done = asyncio.Event()

    async def flush_loop() -> None:
        while True:
            await asyncio.sleep(window_ms / 1000)
            await flush()

    async def flush() -> None:
        nonlocal pending
        if pending:
            batch_now, pending = pending, []
            await batch_now[-1].channel.basic_ack(
                batch_now[-1].delivery.delivery_tag, multiple=True
            )

    async def on_connect(connection: Any) -> None:
        channel = await connection.channel(publisher_confirms=False)
        await declare_queue_with_dlq(channel, queue)
        await channel.basic_qos(prefetch_count=3000)

        async def on_delivery(message: Any) -> None:
            nonlocal received, first, last
            now = time.time()
            if received == 0:
                first = now
            received += 1
            last = now
            sent = (message.header.properties.headers or {}).get(SENT_AT_HEADER)
            if isinstance(sent, int):
                latencies.append(now - sent / 1_000_000)
            pending.append(message)
            if len(pending) >= batch:
                await flush()
            if received >= expect:
                done.set()

        await channel.basic_consume(queue, on_delivery)
        print("ready", flush=True)

    link = AmqpLink(url, f"bench-sink-{queue}", on_connect)
    link.start()
    flusher = asyncio.create_task(flush_loop())
    await done.wait()
    await flush()
    flusher.cancel()
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]
            if latencies
            else float("nan")
        )

    print(
        json.dumps(
            {"received": received, "first": first, "last": last, "p50": pct(50), "p99": pct(99)}
        ),
        flush=True,
    )
    await link.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    r = sub.add_parser("relay")
    r.add_argument("--sinks", type=int, default=2)
    r.add_argument("--prefetch", type=int, default=2000)
    s = sub.add_parser("sink")
    s.add_argument("--queue", type=int, required=True)
    s.add_argument("--expect", type=int, required=True)
    s.add_argument("--batch", type=int, default=1000)
    s.add_argument("--window-ms", type=int, default=50)
    args = parser.parse_args()
    url = os.environ["EMS_AMQP_URL"]
    if args.role == "relay":
        uvloop.run(relay(url, args.sinks, args.prefetch))
    else:
        uvloop.run(sink(url, sink_queue(args.queue), args.expect, args.batch, args.window_ms))


if __name__ == "__main__":
    main()
