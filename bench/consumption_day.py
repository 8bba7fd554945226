"""`GET /api/consumption/day` with a year of hourly data for 1,000 devices.

A client owning all the devices asks for random (device, day) pairs of that year straight
at one monitoring replica (`ems serve monitoring`, no gateway), with a real token from the
auth service; wrk measures the latency. Each request checks the token (EdDSA), the device's
owner and reads 24 hourly rows from a table of 8.76 million.

    uv run python bench/consumption_day.py [--devices 1000] [--days 365] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from _support import (
    begin,
    bench_arguments,
    cpu_seconds,
    finish,
    free_port,
    isolated_env,
    migrate,
    wait_ready,
)

PASSWORD = "correct-horse-battery"


async def load_year(dsn: str, owner: uuid.UUID, devices: int, days: int) -> list[uuid.UUID]:
    """Devices owned by `owner`, each with an hourly figure for every hour of `days` days."""
    ids = [uuid.uuid4() for _ in range(devices)]
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=days
    )
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "devices",
            records=[
                (d, f"meter {i}", owner, 2_000_000, 1, False, datetime.now(UTC))
                for i, d in enumerate(ids)
            ],
            columns=[
                "id",
                "name",
                "owner_id",
                "max_hourly_micro_kwh",
                "revision",
                "deleted",
                "updated_at",
            ],
        )
        # What the users and devices events would have left in monitoring's copies: the
        # owner (a client in UTC, whose role monitoring trusts) and the devices' first owner
        # period (since NULL: their whole history is the owner's).
        await conn.execute(
            "INSERT INTO users (id, role, time_zone, revision) VALUES ($1, 'CLIENT', 'UTC', 1)",
            owner,
        )
        await conn.copy_records_to_table(
            "device_owners",
            records=[(d, owner, None, None) for d in ids],
            columns=["device_id", "owner_id", "since", "until"],
        )
        rng = random.Random(7)
        now = datetime.now(UTC)
        for device in ids:
            rows = [
                (device, first + timedelta(hours=h), rng.randint(50_000, 2_500_000), 6, now)
                for h in range(days * 24)
            ]
            await conn.copy_records_to_table(
                "hourly_consumption",
                records=rows,
                columns=["device_id", "hour", "micro_kwh", "readings", "updated_at"],
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return ids


def wrk_script(folder: Path, ids: list[uuid.UUID], first: date, days: int, token: str) -> Path:
    script = folder / "day.lua"
    quoted = ",".join(f'"{d}"' for d in ids)
    script.write_text(
        f"""
local ids = {{{quoted}}}
local first = {int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp())}
wrk.headers["Authorization"] = "Bearer {token}"
math.randomseed(42)
request = function()
  local id = ids[math.random(#ids)]
  local day = os.date("!%Y-%m-%d", first + 86400 * math.random(0, {days - 1}))
  return wrk.format("GET", "/api/consumption/day?device_id=" .. id .. "&date=" .. day)
end
"""
    )
    return script


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = {}
    for pct in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            result[f"p{pct}_ms"] = (
                value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
            )
    result["requests_per_s"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = float(non_2xx.group(1)) if non_2xx else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[1, 4, 16], help="wrk runs, one each"
    )
    bench_arguments(parser)
    args = parser.parse_args()
    report = begin(args, devices=args.devices, days=args.days)
    with isolated_env() as env, tempfile.TemporaryDirectory() as tmp:
        env.update(
            EMS_ADMIN_USERNAME="root",
            EMS_ADMIN_PASSWORD=PASSWORD,
            EMS_DEVICES_INTERNAL_URL="",
            EMS_USERS_INTERNAL_URL="",
            EMS_READINGS_RETENTION_DAYS="7",
            EMS_ARGON2_MEMORY_KIB="1024",
            EMS_ARGON2_TIME_COST="1",
        )
        migrate(env, "auth", "monitoring")
        auth_port, port = free_port(), free_port()
        env["EMS_AUTH_INTERNAL_URL"] = f"http://127.0.0.1:{auth_port}"
        processes = []
        try:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ems.cli", "serve", "auth", "--port", str(auth_port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            wait_ready(env["EMS_AUTH_INTERNAL_URL"], processes[0])
            auth = httpx.Client(base_url=env["EMS_AUTH_INTERNAL_URL"], timeout=30)
            client = auth.post(
                "/api/auth/register", json={"username": "bench-client", "password": PASSWORD}
            ).json()
            token = auth.post(
                "/api/auth/login", json={"username": "bench-client", "password": PASSWORD}
            ).json()["access_token"]
            dsn = f"{env['EMS_PG_URL']}/{env['EMS_DB_PREFIX']}monitoringdb"
            started = time.monotonic()
            ids = asyncio.run(load_year(dsn, uuid.UUID(client["id"]), args.devices, args.days))
            loaded = time.monotonic() - started
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ems.cli", "serve", "monitoring", "--port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, processes[1])
            first = (datetime.now(UTC) - timedelta(days=args.days)).date()
            probe = httpx.get(
                f"{url}/api/consumption/day",
                params={"device_id": str(ids[0]), "date": first.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert probe.status_code == 200 and len(probe.json()["hours"]) == 24, probe.text
            script = wrk_script(Path(tmp), ids, first, args.days, token)
            run_wrk(url, script, 4, 5)  # warm-up
            results = {}
            for connections in args.connections:
                cpu_before = cpu_seconds(processes[1].pid)
                results[connections] = run_wrk(url, script, connections, args.seconds)
                # The service's own CPU per request: what the latency would be on an idle core.
                cpu = cpu_seconds(processes[1].pid) - cpu_before
                served = results[connections]["requests_per_s"] * args.seconds
                results[connections]["service_cpu_ms_per_request"] = round(1000 * cpu / served, 2)
        finally:
            for process in processes:
                process.terminate()
                process.wait(15)
    report |= {
        "hourly_rows": args.devices * args.days * 24,
        "load_seconds": round(loaded, 1),
        "wrk_by_connections": results,
    }
    finish(args, report)


if __name__ == "__main__":
    main()
