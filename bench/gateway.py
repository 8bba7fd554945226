"""Gateway overhead: a trivial authenticated GET (`/api/auth/me`: token check and one
primary-key read) through nginx with forward auth, against the same request straight to
the auth service, in one run, at a fixed concurrency. The ratio is the figure (issue
target: gateway ≥ 0.50 of direct; a naive forward-auth set-up measured 0.30 here).

    uv run python bench/gateway.py [--concurrency 64] [--seconds 10] [--runs 3]

Needs wrk and nginx. Reuses the gateway and wrk helpers of bench/devices.py.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys

import httpx
from _support import begin, bench_arguments, finish, free_port, isolated_env, migrate, service

from devices import ADMIN, ADMIN_PASSWORD, gateway, login, measured, processes, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    bench_arguments(parser)
    args = parser.parse_args()
    # The gateway helper routes auth, users and devices; only auth is started and asked.
    ports = {name: free_port() for name in ("auth", "users", "devices")}
    report = begin(args, concurrency=args.concurrency, seconds=args.seconds)
    with isolated_env() as env:
        env.update(EMS_ACCESS_TOKEN_TTL_SECONDS="900")
        migrate(env, "auth")
        subprocess.run(
            [sys.executable, "-m", "ems.cli", "create-admin", ADMIN, "--password-stdin"],
            input=ADMIN_PASSWORD.encode(),
            env=env,
            check=True,
            capture_output=True,
        )
        with contextlib.ExitStack() as stack:
            direct_url = stack.enter_context(service(env, "auth", ports["auth"]))
            gw, nginx = stack.enter_context(gateway(ports))
            with httpx.Client(base_url=gw) as http:
                token = login(http, ADMIN, ADMIN_PASSWORD)["Authorization"].split()[1]
            auth_pids = processes(cmdline=f"serve auth --port {ports['auth']}")
            gateway_pids = [nginx, *processes(parent=nginx), *auth_pids]
            path = "/api/auth/me"
            wrk(gw + path, token, args.concurrency, 2)  # warm-up
            runs = []
            for _ in range(args.runs):
                direct = measured(
                    direct_url + path, token, args.concurrency, args.seconds, auth_pids
                )
                through = measured(gw + path, token, args.concurrency, args.seconds, gateway_pids)
                runs.append(
                    {
                        "direct": direct,
                        "gateway": through,
                        "ratio": round(through["requests_per_s"] / direct["requests_per_s"], 2),
                    }
                )
    report["runs"] = runs
    report["median_ratio"] = statistics.median(r["ratio"] for r in runs)
    report["target"] = 0.5
    finish(args, report)


if __name__ == "__main__":
    main()
