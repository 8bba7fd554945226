"""What the benchmarks share: a private database prefix and a provisioned vhost with broker
logins of the run's own, services started as real processes (`ems serve`), percentiles, and
the load-average guard. Benchmarks send traffic to loopback only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from ems.common.messaging.credentials import connection_url, ensure_passwords
from ems.common.messaging.provision import BrokerTools
from ems.common.messaging.topology import IDENTITIES
from ems.common.settings import CommonSettings

PG_URL = os.environ.get("EMS_PG_URL", "postgresql://postgres@127.0.0.1:5432")
AMQP_HOST = os.environ.get("EMS_BENCH_AMQP_HOST", "127.0.0.1:5672")
ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (children not included); NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(pattern: str) -> list[int]:
    """The processes whose command line matches `pattern` (pgrep -f)."""
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


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


# Over this 1-minute load average (on two cores) the machine is busy with something else.
BUSY_LOAD = 1.5


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def refuse_when_busy(force: bool) -> float:
    """The load average before the run; exits when the machine is busy (unless forced:
    a smoke run whose figures mean nothing)."""
    load = load_average()
    if load > BUSY_LOAD and not force:
        raise SystemExit(
            f"the 1-minute load average is {load} (over {BUSY_LOAD}): the machine is busy, "
            "its figures would be someone else's. Run it on a quiet machine (--force runs "
            "it anyway, to check that it works)."
        )
    return load


def bench_arguments(parser: argparse.ArgumentParser) -> None:
    """What every benchmark accepts: `--force` (run on a busy machine: a smoke run) and
    `--out` (also write the report there, as JSON)."""
    parser.add_argument("--force", action="store_true", help="run on a busy machine (a smoke run)")
    parser.add_argument("--out", type=Path, help="also write the report here (JSON)")


def begin(args: argparse.Namespace, **settings: Any) -> dict[str, Any]:
    """A benchmark's report, started: the machine and the load average before the run
    (refused over `BUSY_LOAD` unless `--force`), then the run's settings."""
    before = refuse_when_busy(args.force)
    return {
        "machine": machine(),
        "load_average_before": before,
        # Forced on a busy machine: the figures say it works, not how fast.
        "forced": bool(args.force and before > BUSY_LOAD),
        **settings,
    }


def finish(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """The load average after the run, then the report on stdout (and in `--out`)."""
    report["load_average_after"] = load_average()
    text = json.dumps(report, indent=2)
    print(text, flush=True)
    if args.out:
        args.out.write_text(text + "\n")


@contextlib.contextmanager
def isolated_env() -> Iterator[dict[str, str]]:
    """EMS_* settings on a database prefix and a vhost of this run, provisioned as `ems up`
    does (topology, one login per service and the meter, with passwords of the run's own);
    the vhost, logins and databases are removed afterwards. guest may inspect the vhost."""
    run = uuid.uuid4().hex[:8]
    vhost = f"ems-bench-{run}"
    prefix = f"b{run}-"
    tools = BrokerTools()
    with tempfile.TemporaryDirectory(prefix="ems-bench-secrets-") as secrets:
        passwords = ensure_passwords(Path(secrets), IDENTITIES)
        tools.ctl("add_vhost", vhost)
        try:
            tools.provision(vhost, prefix, passwords)
            tools.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
            env = dict(os.environ)
            env.update(
                EMS_PG_URL=PG_URL,
                EMS_DB_PREFIX=f"b{run}_",
                EMS_AMQP_URL=f"amqp://{AMQP_HOST}/{vhost}",
                EMS_BROKER_USER_PREFIX=prefix,
                EMS_BROKER_SECRETS_DIR=secrets,
                EMS_LOG_LEVEL="WARNING",
            )
            yield env
        finally:
            tools.ctl("delete_vhost", vhost)
            tools.delete_users(prefix)
            asyncio.run(_drop_databases(f"b{run}_"))


def broker_url(env: dict[str, str], identity: str) -> str:
    """The run's vhost logged in as `identity` (a service's name, or `meter`)."""
    settings = CommonSettings(
        amqp_url=env["EMS_AMQP_URL"],
        broker_user_prefix=env["EMS_BROKER_USER_PREFIX"],
        broker_secrets_dir=Path(env["EMS_BROKER_SECRETS_DIR"]),
    )
    return connection_url(settings, identity)


def inspector_url(env: dict[str, str]) -> str:
    """guest on the run's vhost: reads and purges queues, trusted by no service."""
    return env["EMS_AMQP_URL"].replace("amqp://", "amqp://guest:guest@", 1)


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
