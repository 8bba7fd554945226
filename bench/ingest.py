"""Ingest benchmark: the simulator's load mode through the whole pipeline (raw queue ->
balancer -> two monitoring replicas -> PostgreSQL), against the bare broker relay measured
in the same run (the same readings through two queue hops, no processing).

Every process is real and co-located, as on a 2-core machine running the whole platform:
the publisher (`ems simulate`), RabbitMQ, the balancer, two replicas (`ems serve`),
PostgreSQL. Rounds alternate baseline and pipeline, on fresh devices each time (so no
reading is a repeat), and the medians are reported.

- rate: readings stored (pipeline) or received (baseline) per second, from the first to
  the last one of the round, with the publisher sending as fast as its confirm window lets;
- latency: publish (the `x-ems-sent-at-us` header) to commit, at half the rate just measured:
  the replicas' histogram for the pipeline, exact percentiles for the baseline;
- CPU seconds of each process, to name what limits the rate.

    uv run python bench/ingest.py [--devices 2000] [--count 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
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

import asyncpg
import httpx
from _support import ROOT, free_port, isolated_env, machine, migrate, wait_ready

BENCH = Path(__file__).resolve().parent
STORED = re.compile(r'^ems_monitoring_readings_total\{outcome="stored"\} (\S+)$', re.M)
BUCKET = re.compile(r'^ems_monitoring_store_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)


# --- processes -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (children not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


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
def started(
    env: dict[str, str], name: str, argv: list[str], url: str | None = None
) -> Iterator[Running]:
    # Only the relay talks on stdout (one "ready" line); a service's logs could fill a pipe.
    stdout = subprocess.DEVNULL if url else subprocess.PIPE
    process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        if url is not None:
            wait_ready(url, process)
        yield Running(name, process, url)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def serve(
    env: dict[str, str], service: str, instance: int = 0
) -> contextlib.AbstractContextManager[Running]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "ems.cli",
        "serve",
        service,
        "--port",
        str(port),
        "--instance",
        str(instance),
    ]
    return started(env, f"{service}-{instance}", argv, f"http://127.0.0.1:{port}")


def simulate(
    env: dict[str, str], devices: Path, count: int, rate: float | None = None
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "ems.cli",
        "simulate",
        "--devices-file",
        str(devices),
        "--quiet",
        "--window",
        "1000",
    ]
    if rate is None:
        return [*argv, "--count", str(count)]
    return [*argv, "--rate", str(rate), "--count", str(count)]


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


class CpuWatch:
    def __init__(self, processes: dict[str, list[int]]) -> None:
        self.processes = processes
        self.before: dict[str, dict[int, float]] = self._sample()
        self.busy_before = machine_busy()

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {p: cpu_seconds(p) for p in pids} for name, pids in self.processes.items()}

    def stop(self, round_: Round) -> None:
        after = self._sample()
        # A process that came or went during the round (another user's broker, say) counts
        # for nothing rather than spoiling the sum.
        round_.cpu = {
            name: sum(
                after[name][p] - self.before[name][p]
                for p in after[name]
                if not math.isnan(after[name][p])
                and not math.isnan(self.before[name].get(p, math.nan))
            )
            for name in after
        }
        busy, total = machine_busy()
        round_.machine_busy = (busy - self.busy_before[0]) / max(1, total - self.busy_before[1])


def devices_file(folder: Path, count: int) -> tuple[Path, list[uuid.UUID]]:
    ids = [uuid.uuid4() for _ in range(count)]
    path = folder / f"devices-{uuid.uuid4().hex[:6]}.txt"
    path.write_text("".join(f"{d}\n" for d in ids))
    return path, ids


async def register_devices(env: dict[str, str], ids: list[uuid.UUID]) -> None:
    """Play the devices service: one `device.created` per device, then wait for monitoring."""
    import aio_pika

    from ems.common.messaging import EXCHANGE_SYNC
    from ems.contracts.events import DeviceCreated, Envelope

    connection = await aio_pika.connect(env["EMS_AMQP_URL"])
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EXCHANGE_SYNC)
    for i in range(0, len(ids), 500):
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        Envelope.wrap(
                            DeviceCreated(id=d, name=f"bench {d.hex[:6]}", max_hourly_kwh=1000.0)
                        )
                        .model_dump_json()
                        .encode()
                    ),
                    DeviceCreated.routing_key,
                )
                for d in ids[i : i + 500]
            )
        )
    await connection.close()
    db = await asyncpg.connect(f"{env['EMS_PG_URL']}/{env['EMS_DB_PREFIX']}monitoringdb")
    try:
        while await db.fetchval(
            "SELECT count(*) FROM devices WHERE id = ANY($1::uuid[])", ids
        ) < len(ids):
            await asyncio.sleep(0.2)
    finally:
        await db.close()


def scrape(urls: list[str]) -> tuple[float, dict[float, float]]:
    """Stored readings and the latency histogram (cumulative, by upper bound) of the replicas."""
    stored = 0.0
    buckets: dict[float, float] = {}
    for url in urls:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        stored += sum(float(v) for v in STORED.findall(text))
        for le, value in BUCKET.findall(text):
            bound = math.inf if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(value)
    return stored, buckets


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
    publisher = subprocess.Popen(
        simulate(env, devices, count, rate),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watch = CpuWatch({**pids, "publisher": [publisher.pid]})
    first_at = None
    first_count = 0.0
    publisher_cpu = 0.0
    while True:
        time.sleep(0.1)
        if publisher.poll() is None:
            publisher_cpu = cpu_seconds(publisher.pid)
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
    round_.cpu["publisher"] = publisher_cpu
    return round_, hist0, hist


def baseline_round(
    env: dict[str, str],
    pids: dict[str, list[int]],
    devices: Path,
    count: int,
    rate: float | None = None,
) -> tuple[Round, dict[str, float]]:
    half = [count // 2 + count % 2, count // 2]
    sinks = [
        subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "ingest_relay.py"),
                "sink",
                "--queue",
                str(i),
                "--expect",
                str(n),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i, n in enumerate(half)
    ]
    for sink in sinks:
        assert sink.stdout is not None
        assert sink.stdout.readline().strip() == "ready"
    watch = CpuWatch(pids)
    publisher = subprocess.Popen(
        simulate(env, devices, count, rate),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    short_lived = {"publisher": publisher, "sink-0": sinks[0], "sink-1": sinks[1]}
    last_cpu: dict[str, float] = {}
    while any(p.poll() is None for p in short_lived.values()):
        for name, process in short_lived.items():
            if process.poll() is None:
                last_cpu[name] = cpu_seconds(process.pid)
        time.sleep(0.1)
    results = []
    for sink in sinks:
        out, _ = sink.communicate(timeout=120)
        results.append(json.loads(out.strip().splitlines()[-1]))
    first = min(r["first"] for r in results)
    last = max(r["last"] for r in results)
    round_ = Round("baseline", count, last - first)
    watch.stop(round_)
    round_.cpu.update(last_cpu)
    latency = {
        "p50": statistics.median(r["p50"] for r in results),
        "p99": max(r["p99"] for r in results),
    }
    return round_, latency


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
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--no-live", action="store_true", help="replicas send no consumption.updated"
    )
    args = parser.parse_args()

    with isolated_env() as env, tempfile.TemporaryDirectory() as tmp:
        env.update(EMS_DEVICES_INTERNAL_URL="", EMS_LOG_LEVEL="WARNING")
        if args.no_live:
            env["EMS_LIVE_UPDATE_INTERVAL_SECONDS"] = "0"
        folder = Path(tmp)
        migrate(env, "monitoring")
        baseline: list[Round] = []
        pipeline: list[Round] = []
        with contextlib.ExitStack() as stack:
            monitors = [stack.enter_context(serve(env, "monitoring", i)) for i in range(2)]
            urls = [m.url for m in monitors if m.url]
            common = broker_pids()
            replicas = {f"monitoring-{i}": [m.process.pid] for i, m in enumerate(monitors)}

            def run_baseline(
                count: int, rate: float | None = None
            ) -> tuple[Round, dict[str, float]]:
                # The relay and the balancer take turns on the raw queue: one runs at a time.
                with relay_process(env) as relay:
                    devices, _ = devices_file(folder, args.devices)
                    return baseline_round(
                        env, {**common, "relay": [relay.process.pid]}, devices, count, rate
                    )

            def run_pipeline(
                count: int, rate: float | None = None
            ) -> tuple[Round, dict[float, float], dict[float, float]]:
                with serve(env, "balancer") as balancer:
                    devices, ids = devices_file(folder, args.devices)
                    asyncio.run(register_devices(env, ids))
                    pids = {
                        **common,
                        **replicas,
                        "balancer": [balancer.process.pid],
                        "postgres": asyncio.run(database_pids(env)),
                    }
                    return pipeline_round(env, urls, pids, devices, count, rate)

            for n in range(args.rounds):
                round_, _ = run_baseline(args.count)
                baseline.append(round_)
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
            args, baseline, pipeline, half_rate, half_round, pipe_latency, base_half, base_latency
        )


@contextlib.contextmanager
def relay_process(env: dict[str, str]) -> Iterator[Running]:
    argv = [sys.executable, str(BENCH / "ingest_relay.py"), "relay"]
    with started(env, "relay", argv) as relay:
        assert relay.process.stdout is not None
        assert relay.process.stdout.readline().strip() == b"ready"
        yield relay


def print_round(n: int, round_: Round) -> None:
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(round_.cpu.items()))
    print(
        f"round {n + 1} {round_.kind:<8} {round_.rate:8.0f} readings/s  "
        f"({round_.readings} in {round_.seconds:.1f} s; machine {round_.machine_busy:.0%} busy; "
        f"cpu s: {cpu})",
        flush=True,
    )


def report(
    args: Any,
    baseline: list[Round],
    pipeline: list[Round],
    half_rate: float,
    half_round: Round,
    pipe_latency: dict[str, float],
    base_half: Round,
    base_latency: dict[str, float],
) -> None:
    base_rate = statistics.median(r.rate for r in baseline)
    pipe_rate = statistics.median(r.rate for r in pipeline)
    result = {
        "machine": machine(),
        "devices_per_round": args.devices,
        "live_updates": not args.no_live,
        "readings_per_round": args.count,
        "baseline_rates": [round(r.rate) for r in baseline],
        "pipeline_rates": [round(r.rate) for r in pipeline],
        "baseline_rate": round(base_rate),
        "pipeline_rate": round(pipe_rate),
        "ratio": round(pipe_rate / base_rate, 3),
        "half_rate": round(half_rate),
        "pipeline_half_rate_achieved": round(half_round.rate),
        "pipeline_latency_ms": {k: round(v * 1000, 1) for k, v in pipe_latency.items()},
        "baseline_half_rate_achieved": round(base_half.rate),
        "baseline_latency_ms": {k: round(v * 1000, 1) for k, v in base_latency.items()},
        "pipeline_cpu_seconds_last_round": {k: round(v, 1) for k, v in pipeline[-1].cpu.items()},
        "baseline_cpu_seconds_last_round": {k: round(v, 1) for k, v in baseline[-1].cpu.items()},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
