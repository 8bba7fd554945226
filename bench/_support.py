"""What the benchmarks share: a private database prefix and vhost, services started as real
processes (`ems serve`), percentiles. Benchmarks send traffic to loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

PG_URL = os.environ.get("EMS_PG_URL", "postgresql://postgres@127.0.0.1:5432")
AMQP_HOST = os.environ.get("EMS_BENCH_AMQP_HOST", "127.0.0.1:5672")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "n": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
    }


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


@contextlib.contextmanager
def isolated_env() -> Iterator[dict[str, str]]:
    """EMS_* settings on a database prefix and vhost of this run, removed afterwards."""
    run = uuid.uuid4().hex[:8]
    vhost = f"ems-bench-{run}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    env = dict(os.environ)
    env.update(
        EMS_PG_URL=PG_URL,
        EMS_DB_PREFIX=f"b{run}_",
        EMS_AMQP_URL=f"amqp://guest:guest@{AMQP_HOST}/{vhost}",
        EMS_LOG_LEVEL="WARNING",
    )
    try:
        yield env
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)
        asyncio.run(_drop_databases(env["EMS_DB_PREFIX"]))


async def _drop_databases(prefix: str) -> None:
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql") + "/postgres")
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in rows:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


def migrate(env: dict[str, str], *services: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "ems.cli", "migrate", *services],
        env=env,
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def service(env: dict[str, str], name: str, port: int, instance: int = 0) -> Iterator[str]:
    """One service as a real process; yields its base URL once it is ready."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ems.cli",
            "serve",
            name,
            "--port",
            str(port),
            "--instance",
            str(instance),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready within {timeout} s")
