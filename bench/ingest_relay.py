"""The baseline of bench/ingest.py: the bare one-hop relay's consumer.

For the baseline rounds `ems.data` is bound straight to one durable queue (`bench.onehop`)
instead of the reading partitions: the publisher (`ems simulate`, as a meter) -> one queue
-> this one consumer, which takes the readings off and acks them in batches (up to 1000 or
50 ms, one `multiple` ack), as a monitoring replica does, but parses and stores nothing.
With `--queues` it consumes several queues on its one channel: the transport-only rounds,
where the readings take the pipeline's routing (a consistent-hash exchange, 64 partitions).
It prints "ready", then, once `--expect` readings arrived, one JSON line: first and last
arrival, and publish-to-arrival latency (from the `x-ems-sent-at-us` header).

    EMS_AMQP_URL=amqp://<login that may read it>@host/vhost \\
        uv run python bench/ingest_relay.py --expect 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import aiormq
import uvloop

from ems.contracts.ingest import SENT_AT_HEADER

QUEUE = "bench.onehop"


async def sink(url: str, queues: list[str], expect: int, batch: int, window_ms: int) -> None:
    received = 0
    first = last = 0.0
    latencies: list[float] = []
    pending: list[Any] = []
    done = asyncio.Event()
    connection = await aiormq.connect(url)
    channel = await connection.channel(publisher_confirms=False)
    # 3000 unacked in all, as a replica holds across its partitions.
    await channel.basic_qos(prefetch_count=max(20, 3000 // len(queues)))

    async def flush() -> None:
        nonlocal pending
        if pending:
            settled, pending = pending, []
            await channel.basic_ack(settled[-1].delivery.delivery_tag, multiple=True)

    async def flush_every_window() -> None:
        while True:
            await asyncio.sleep(window_ms / 1000)
            await flush()

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

    for queue in queues:
        await channel.basic_consume(queue, on_delivery)
    print("ready", flush=True)
    flusher = asyncio.create_task(flush_every_window())
    await done.wait()
    await flush()
    flusher.cancel()
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    result = {"received": received, "first": first, "last": last, "p50": pct(50), "p99": pct(99)}
    print(json.dumps(result), flush=True)
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--window-ms", type=int, default=50)
    parser.add_argument("--queues", default=QUEUE, help="comma-separated queues to consume")
    args = parser.parse_args()
    queues = args.queues.split(",")
    uvloop.run(sink(os.environ["EMS_AMQP_URL"], queues, args.expect, args.batch, args.window_ms))


if __name__ == "__main__":
    main()
