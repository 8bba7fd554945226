"""Login benchmark: 10 concurrent clients logging in against the real auth service.

argon2id (OWASP parameters) dominates the cost by design. Baseline, measured in the same
run: one argon2id verification with the same parameters, called directly in-process. The
ratio (login p50 / direct verify) shows what HTTP, the database and throttling add.

    uv run python bench/login.py [--concurrency 10] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from _support import (
    begin,
    bench_arguments,
    finish,
    free_port,
    isolated_env,
    migrate,
    service,
    summary,
)
from argon2 import PasswordHasher

PASSWORD = "correct-horse-battery"


async def run_logins(url: str, users: list[str], seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def client(username: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                r = await http.post(
                    "/api/auth/login", json={"username": username, "password": PASSWORD}
                )
                latencies.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text

    await asyncio.gather(*(client(u) for u in users))
    return latencies


def direct_verify(samples: int = 30) -> list[float]:
    hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
    hashed = hasher.hash(PASSWORD)
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        hasher.verify(hashed, PASSWORD)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=15)
    bench_arguments(parser)
    args = parser.parse_args()
    report = begin(args, concurrency=args.concurrency)
    with isolated_env() as env:
        migrate(env, "auth")
        with service(env, "auth", free_port()) as url:
            users = [f"bench{i}" for i in range(args.concurrency)]
            for u in users:
                httpx.post(f"{url}/api/auth/register", json={"username": u, "password": PASSWORD})
            asyncio.run(run_logins(url, users[:1], 2))  # warm-up
            latencies = asyncio.run(run_logins(url, users, args.seconds))
    base = summary(direct_verify())
    result = summary(latencies)
    report |= {
        "logins_per_s": round(len(latencies) / args.seconds, 1),
        "login": {k: round(v, 1) for k, v in result.items()},
        "direct_argon2_verify": {k: round(v, 1) for k, v in base.items()},
        "ratio_login_p50_to_direct_verify": round(result["p50_ms"] / base["p50_ms"], 2),
        "target_p95_ms": 500,
        "met": result["p95_ms"] < 500,
    }
    finish(args, report)


if __name__ == "__main__":
    main()
