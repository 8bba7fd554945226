"""Ingest benchmark: the simulator's load mode through the whole pipeline (`ems.data` ->
the consistent-hash exchange -> a reading partition -> one of two monitoring replicas ->
PostgreSQL, the balancer assigning partitions beside it), against a bare one-hop relay
measured in the same run (the same publisher and readings -> one queue -> one consumer that
only acks, see ingest_relay.py), and against that relay behind the pipeline's routing (a
hash exchange and 64 partitions of its own, all consumed by the relay): what the transport
alone costs, apart from parsing and storing.

Every process is real and co-located, as on a 2-core machine running the whole platform:
the publisher (`ems simulate`, logged in as the meter), RabbitMQ, the balancer, two replicas
(`ems serve`), PostgreSQL. Rounds alternate baseline and pipeline, on fresh devices each
time (so no reading is a repeat), and the medians are reported:

- rate: readings stored (pipeline) or received (baseline) per second, from the first to
  the last one of the round, with the publisher sending as fast as its confirm window lets;
- latency: publish (the `x-ems-sent-at-us` header) to commit, at half the rate just measured:
  the replicas' histogram for the pipeline, exact percentiles for the baseline;
- CPU per reading of each process (publisher, RabbitMQ, balancer, replicas, PostgreSQL
  backends, the relay's consumer), to name what limits the rate.

The 1-minute load average is recorded before and after; over 1.5 before the start, the
machine is busy and the benchmark refuses to run (`--force` runs it anyway: a smoke run).

    uv run python bench/ingest.py [--devices 2000] [--count 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
from _support import (
    ROOT,
    begin,
    bench_arguments,
    broker_url,
    cpu_seconds,
    finish,
    free_port,
    inspector_url,
    isolated_env,
    migrate,
    pids_named,
    wait_ready,
)

from ems.common.messaging import EXCHANGE_DATA, EXCHANGE_READINGS, EXCHANGE_SYNC, Broker
from ems.common.messaging.topology import (
    DEVICES,
    EXCHANGE_BINDINGS,
    READING_PARTITIONS,
    partition_queue,
)
from ems.common.messaging.topology import queue as queue_entry
from ems.contracts.events import DeviceCreated, Envelope

BENCH = Path(__file__).resolve().parent
ONE_HOP = "bench.onehop"
# The transport-only rounds' copy of the pipeline's routing, consumed by the relay.
RELAY_RING = "bench.readings"
RELAY_PARTITIONS = [f"bench.{partition_queue(i)}" for i in range(READING_PARTITIONS)]
READINGS_KEY = next(key for src, dst, key in EXCHANGE_BINDINGS if dst == EXCHANGE_READINGS)
STORED = re.compile(r'^ems_monitoring_readings_total\{outcome="stored"\} (\S+)$', re.M)
BUCKET = re.compile(r'^ems_monitoring_store_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
CONSUMED = re.compile(r'^ems_monitoring_partitions\{state="consumed"\} (\S+)$', re.M)


# --- processes -------------------------------------------------------------------------------


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    url: str | None = None


@contextlib.contextmanager
def serve(env: dict[str, str], service: str, instance: int = 0) -> Iterator[Running]:
    """`ems serve` as a real process, once it is ready."""
    port = free_port()
    argv = [sys.executable, "-m", "ems.cli", "serve", service, "--port", str(port)]
    argv += ["--instance", str(instance)]
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield Running(f"{service}-{instance}", process, url)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def simulate(
    env: dict[str, str], devices: Path, count: int, rate: float | None = None
) -> subprocess.Popen[bytes]:
    """The publisher: `ems simulate` in load mode, logged in as the meter."""
    argv = [sys.executable, "-m", "ems.cli", "simulate", "--devices-file", str(devices)]
    argv += ["--quiet", "--window", "1000", "--count", str(count)]
    if rate is not None:
        argv += ["--rate", str(rate)]
    return subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Round:
    kind: str
    readings: int
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0

    @property
    def rate(self) -> float:
        return self.readings / self.seconds

    def cpu_ms_per_reading(self) -> dict[str, float]:
        return {name: 1000 * cpu / self.readings for name, cpu in self.cpu.items()}


class CpuWatch:
    """CPU seconds of named processes over a round; a short-lived one is sampled while it
    runs (`track`), as its /proc entry goes when it exits."""

    def __init__(self, processes: dict[str, list[int]]) -> None:
        self.processes = processes
        self.before = self._sample()
        self.busy_before = machine_busy()
        self.last: dict[str, float] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {p: cpu_seconds(p) for p in pids} for name, pids in self.processes.items()}

    def track(self, name: str, process: subprocess.Popen[Any]) -> None:
        if process.poll() is None:
            self.last[name] = cpu_seconds(process.pid)

    def stop(self, round_: Round) -> None:
        after = self._sample()
        # A process that came or went during the round counts for nothing rather than
        # spoiling the sum.
        round_.cpu = {
            name: sum(
                after[name][p] - self.before[name][p]
                for p in after[name]
                if not math.isnan(after[name][p])
                and not math.isnan(self.before[name].get(p, math.nan))
            )
            for name in after
        }
        round_.cpu.update(self.last)
        busy, total = machine_busy()
        round_.machine_busy = (busy - self.busy_before[0]) / max(1, total - self.busy_before[1])


def devices_file(folder: Path, count: int) -> tuple[Path, list[uuid.UUID]]:
    ids = [uuid.uuid4() for _ in range(count)]
    path = folder / f"devices-{uuid.uuid4().hex[:6]}.txt"
    path.write_text("".join(f"{d}\n" for d in ids))
    return path, ids


async def register_devices(env: dict[str, str], ids: list[uuid.UUID]) -> None:
    """Play the devices service (its login): one `device.created` per device, then wait
    until monitoring knows them all."""
    devices = Broker(broker_url(env, DEVICES), "bench-devices")
    await devices.connect()
    try:
        for i in range(0, len(ids), 500):
            await asyncio.gather(
                *(
                    devices.publish(
                        EXCHANGE_SYNC,
                        DeviceCreated.routing_key,
                        Envelope.wrap(
                            DeviceCreated(id=d, name=f"bench {d.hex[:6]}", max_hourly_kwh=1e3)
                        )
                        .model_dump_json()
                        .encode(),
                    )
                    for d in ids[i : i + 500]
                )
            )
    finally:
        await devices.close()
    db = await asyncpg.connect(f"{env['EMS_PG_URL']}/{env['EMS_DB_PREFIX']}monitoringdb")
    try:
        while await db.fetchval(
            "SELECT count(*) FROM devices WHERE id = ANY($1::uuid[])", ids
        ) < len(ids):
            await asyncio.sleep(0.2)
    finally:
        await db.close()


async def route_readings(env: dict[str, str], route: str) -> None:
    """`ems.data` to the one-hop queue (baseline rounds), to the transport-only partitions
    (a hash exchange and 64 queues like the pipeline's, that the relay consumes) or to the
    reading partitions (pipeline rounds): one route at a time; the pipeline's hash ring
    itself never changes."""
    connection = await aio_pika.connect(inspector_url(env))
    try:
        channel = await connection.channel()
        data = await channel.get_exchange(EXCHANGE_DATA)
        readings = await channel.get_exchange(EXCHANGE_READINGS)
        queue = await channel.declare_queue(ONE_HOP, durable=True)
        ring = await channel.declare_exchange(
            RELAY_RING, aio_pika.ExchangeType.X_CONSISTENT_HASH, durable=True
        )
        for index, name in enumerate(RELAY_PARTITIONS):
            # The same arguments as the pipeline's partitions (dead letters, retry).
            args = queue_entry(partition_queue(index)).arguments()
            partition = await channel.declare_queue(name, durable=True, arguments=args)
            await partition.bind(ring, "1")
        await readings.unbind(data, READINGS_KEY)
        await queue.unbind(data, READINGS_KEY)
        await ring.unbind(data, READINGS_KEY)
        if route == "one_hop":
            await queue.bind(data, READINGS_KEY)
        else:
            await (ring if route == "partitioned" else readings).bind(data, READINGS_KEY)
    finally:
        await connection.close()


def scrape(urls: list[str], pattern: re.Pattern[str] = STORED) -> tuple[float, dict[float, float]]:
    """A counter's sum over the replicas, and their latency histogram (cumulative, by upper
    bound)."""
    total = 0.0
    buckets: dict[float, float] = {}
    for url in urls:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        total += sum(float(v) for v in pattern.findall(text))
        for le, value in BUCKET.findall(text):
            bound = math.inf if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(value)
    return total, buckets


def histogram_percentile(before: dict[float, float], after: dict[float, float], p: float) -> float:
    """A percentile of the observations between two scrapes, interpolated within a bucket."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return float("nan")
    target = p / 100 * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= target:
            if math.isinf(bound):
                return lower
            share = (target - below) / max(cumulative - below, 1e-9)
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return lower


def pipeline_round(
    env: dict[str, str],
    replicas: list[str],
    pids: dict[str, list[int]],
    devices: Path,
    count: int,
    rate: float | None = None,
) -> tuple[Round, dict[float, float], dict[float, float]]:
    stored0, hist0 = scrape(replicas)
    watch = CpuWatch(pids)
    publisher = simulate(env, devices, count, rate)
    first_at = None
    first_count = 0.0
    while True:
        time.sleep(0.1)
        watch.track("publisher", publisher)
        stored, hist = scrape(replicas)
        done = stored - stored0
        if first_at is None and done > 0:
            first_at, first_count = time.monotonic(), done
        if done >= count:
            last_at = time.monotonic()
            break
    publisher.wait(30)
    round_ = Round("pipeline", int(count - first_count), last_at - (first_at or last_at))
    watch.stop(round_)
    return round_, hist0, hist


def baseline_round(
    env: dict[str, str],
    pids: dict[str, list[int]],
    devices: Path,
    count: int,
    rate: float | None = None,
    *,
    partitioned: bool = False,
) -> tuple[Round, dict[str, float]]:
    """The bare one-hop relay; `partitioned`: the same relay behind the pipeline's routing
    (hash exchange, 64 partitions), what the transport alone costs the pipeline."""
    asyncio.run(route_readings(env, "partitioned" if partitioned else "one_hop"))
    queues = RELAY_PARTITIONS if partitioned else [ONE_HOP]
    try:
        relay = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "ingest_relay.py"),
                "--expect",
                str(count),
                "--queues",
                ",".join(queues),
            ],
            env={**env, "EMS_AMQP_URL": inspector_url(env)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert relay.stdout is not None
        assert relay.stdout.readline().strip() == "ready"
        watch = CpuWatch(pids)
        publisher = simulate(env, devices, count, rate)
        while relay.poll() is None or publisher.poll() is None:
            watch.track("publisher", publisher)
            watch.track("relay", relay)
            time.sleep(0.1)
        out, _ = relay.communicate(timeout=120)
        result = json.loads(out.strip().splitlines()[-1])
    finally:
        asyncio.run(route_readings(env, "pipeline"))
    kind = "transport" if partitioned else "baseline"
    round_ = Round(kind, count, result["last"] - result["first"])
    watch.stop(round_)
    return round_, {"p50": result["p50"], "p99": result["p99"]}


def broker_pids() -> dict[str, list[int]]:
    # The broker is shared: its CPU includes whatever else the machine sends through it.
    return {"rabbitmq": pids_named("beam.smp")}


async def database_pids(env: dict[str, str]) -> list[int]:
    """The PostgreSQL backends serving this benchmark's database (connected by now)."""
    conn = await asyncpg.connect(f"{env['EMS_PG_URL']}/postgres")
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1",
            f"{env['EMS_DB_PREFIX']}monitoringdb",
        )
    finally:
        await conn.close()
    return [row["pid"] for row in rows]


def wait_consuming(replicas: list[str], timeout: float = 60.0) -> None:
    """Until the balancer has assigned every partition and the replicas consume them."""
    deadline = time.monotonic() + timeout
    while scrape(replicas, CONSUMED)[0] < 64:
        if time.monotonic() > deadline:
            raise TimeoutError("the replicas do not consume every reading partition")
        time.sleep(0.2)


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--count", type=int, default=100_000, help="readings per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--half-count", type=int, default=60_000, help="readings of the half-rate runs"
    )
    parser.add_argument(
        "--no-live", action="store_true", help="replicas send no consumption.updated"
    )
    bench_arguments(parser)
    args = parser.parse_args()
    started = begin(args)

    with isolated_env() as env, tempfile.TemporaryDirectory() as tmp:
        env.update(EMS_DEVICES_INTERNAL_URL="", EMS_USERS_INTERNAL_URL="", EMS_LOG_LEVEL="WARNING")
        if args.no_live:
            env["EMS_LIVE_UPDATE_INTERVAL_SECONDS"] = "0"
        folder = Path(tmp)
        migrate(env, "monitoring")
        baseline: list[Round] = []
        transport: list[Round] = []
        pipeline: list[Round] = []
        with contextlib.ExitStack() as stack:
            monitors = [stack.enter_context(serve(env, "monitoring", i)) for i in range(2)]
            balancer = stack.enter_context(serve(env, "balancer"))
            urls = [m.url for m in monitors if m.url]
            wait_consuming(urls)
            common = broker_pids()
            services = {
                **{f"monitoring-{i}": [m.process.pid] for i, m in enumerate(monitors)},
                "balancer": [balancer.process.pid],
            }

            def run_baseline(
                count: int, rate: float | None = None, *, partitioned: bool = False
            ) -> tuple[Round, dict[str, float]]:
                devices, _ = devices_file(folder, args.devices)
                return baseline_round(env, common, devices, count, rate, partitioned=partitioned)

            def run_pipeline(
                count: int, rate: float | None = None
            ) -> tuple[Round, dict[float, float], dict[float, float]]:
                devices, ids = devices_file(folder, args.devices)
                asyncio.run(register_devices(env, ids))
                pids = {
                    **common,
                    **services,
                    "postgres": asyncio.run(database_pids(env)),
                }
                return pipeline_round(env, urls, pids, devices, count, rate)

            for n in range(args.rounds):
                round_, _ = run_baseline(args.count)
                baseline.append(round_)
                print_round(n, round_)
                round_, _ = run_baseline(args.count, partitioned=True)
                transport.append(round_)
                print_round(n, round_)
                round_, _, _ = run_pipeline(args.count)
                pipeline.append(round_)
                print_round(n, round_)

            half_rate = statistics.median(r.rate for r in pipeline) / 2
            half_round, h0, h1 = run_pipeline(args.half_count, half_rate)
            print_round(args.rounds, half_round)
            pipe_latency = {
                "p50": histogram_percentile(h0, h1, 50),
                "p99": histogram_percentile(h0, h1, 99),
            }
            base_half, base_latency = run_baseline(args.half_count, half_rate)
            print_round(args.rounds, base_half)

        report(
            args,
            started,
            baseline,
            transport,
            pipeline,
            half_rate,
            half_round,
            pipe_latency,
            base_half,
            base_latency,
        )


def print_round(n: int, round_: Round) -> None:
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(round_.cpu_ms_per_reading().items()))
    print(
        f"round {n + 1} {round_.kind:<8} {round_.rate:8.0f} readings/s  "
        f"({round_.readings} in {round_.seconds:.1f} s; machine {round_.machine_busy:.0%} busy; "
        f"CPU ms per reading: {cpu})",
        flush=True,
    )


def _median_cpu(rounds: list[Round]) -> dict[str, float]:
    names = sorted({name for r in rounds for name in r.cpu})
    return {
        name: round(statistics.median(r.cpu_ms_per_reading().get(name, 0.0) for r in rounds), 3)
        for name in names
    }


def report(
    args: Any,
    started: dict[str, Any],
    baseline: list[Round],
    transport: list[Round],
    pipeline: list[Round],
    half_rate: float,
    half_round: Round,
    pipe_latency: dict[str, float],
    base_half: Round,
    base_latency: dict[str, float],
) -> None:
    base_rate = statistics.median(r.rate for r in baseline)
    pipe_rate = statistics.median(r.rate for r in pipeline)
    transport_rate = statistics.median(r.rate for r in transport)
    result = {
        **started,
        "devices_per_round": args.devices,
        "live_updates": not args.no_live,
        "readings_per_round": args.count,
        "baseline": "bare one-hop relay: publisher -> one queue -> one consumer",
        "baseline_rates": [round(r.rate) for r in baseline],
        "pipeline_rates": [round(r.rate) for r in pipeline],
        "baseline_rate": round(base_rate),
        "pipeline_rate": round(pipe_rate),
        "ratio": round(pipe_rate / base_rate, 3),
        "transport": "the same relay behind the pipeline's routing: hash exchange, 64 partitions",
        "transport_rates": [round(r.rate) for r in transport],
        "transport_rate": round(transport_rate),
        "transport_ratio": round(transport_rate / base_rate, 3),
        "pipeline_share_of_transport": round(pipe_rate / transport_rate, 3),
        "half_rate": round(half_rate),
        "pipeline_half_rate_achieved": round(half_round.rate),
        "pipeline_latency_ms": {k: round(v * 1000, 1) for k, v in pipe_latency.items()},
        "baseline_half_rate_achieved": round(base_half.rate),
        "baseline_latency_ms": {k: round(v * 1000, 1) for k, v in base_latency.items()},
        "pipeline_cpu_ms_per_reading": _median_cpu(pipeline),
        "baseline_cpu_ms_per_reading": _median_cpu(baseline),
        "transport_cpu_ms_per_reading": _median_cpu(transport),
    }
    finish(args, result)


if __name__ == "__main__":
    main()
