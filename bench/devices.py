"""Device reads and lists through the nginx gateway, against the cheapest request on the
same stack (`GET /api/auth/jwks.json`: public, no forward auth, no database), in one run,
at a fixed concurrency, for a client and for an admin.

auth, users and devices run as real processes (`ems serve`; devices as many replicas as
its spec asks, as `ems up` runs it), with the gateway generated from their specs as
`ems up` does. The client owns 20 of 500 devices. Every request carries the caller's access
token, so the gateway's forward auth runs on each one (its 1 s verify cache sees one token)
and the devices service verifies the token again itself. For each case: requests/s, p50 and
p99 from wrk (2 threads), the CPU the serving processes spent per request (nginx, auth and
devices; from /proc), and requests/s as a share of jwks.json's. `--direct` adds the same
requests sent straight to a devices process (no gateway).

    uv run python bench/devices.py [--concurrency 32] [--seconds 10] [--direct]

Needs wrk (apt-get install wrk) and nginx. Refuses to run on a busy machine (1-minute load
average over 1.5) unless `--force`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from _support import (
    begin,
    bench_arguments,
    cpu_seconds,
    finish,
    free_port,
    isolated_env,
    migrate,
    service,
    wait_ready,
)

from ems.common.credentials import gateway_credential, master_key
from ems.common.registry import ServiceSpec, service_spec
from ems.common.settings import CommonSettings
from ems.gateway.nginx import placeholder_root, upstreams_from_specs
from ems.stack.gateway import gateway_child, write_config

ADMIN, ADMIN_PASSWORD = "benchadmin", "bench-admin-password"
PASSWORD = "correct-horse-battery"
SERVICES = ("auth", "users", "devices")


@contextlib.contextmanager
def gateway(ports: Mapping[str, int | list[int]]) -> Iterator[tuple[str, int]]:
    """nginx in front of the services, rendered from their specs (a list of ports: that
    many replicas)."""
    folder = Path(tempfile.mkdtemp(prefix="ems-bench-gw-"))
    port = free_port()
    conf = write_config(
        folder,
        "127.0.0.1",
        port,
        placeholder_root(),
        upstreams_from_specs(
            [_with_replicas(service_spec(name), ports[name]) for name in SERVICES],
            lambda spec, i: _port(ports[spec.name], i),
        ),
        # The services derive their secrets from the development key under EMS_DATA_DIR.
        credential=gateway_credential(master_key(CommonSettings(), None)),
    )
    proc = subprocess.Popen(
        gateway_child(conf).argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _with_replicas(spec: ServiceSpec, ports: int | list[int]) -> ServiceSpec:
    return spec if isinstance(ports, int) else dataclasses.replace(spec, replicas=len(ports))


def _port(ports: int | list[int], instance: int) -> int:
    return ports if isinstance(ports, int) else ports[instance]


def seed(url: str, env: dict[str, str]) -> tuple[str, str, str]:
    """A client owning 20 of 500 devices: their token, one of their device ids, and an
    admin's token."""
    subprocess.run(
        [sys.executable, "-m", "ems.cli", "create-admin", ADMIN, "--password-stdin"],
        input=ADMIN_PASSWORD.encode(),
        env=env,
        check=True,
        capture_output=True,
    )
    with httpx.Client(base_url=url, timeout=30) as http:
        admin = login(http, ADMIN, ADMIN_PASSWORD)
        client = http.post(
            "/api/users",
            json={"username": "benchclient", "password": PASSWORD, "role": "CLIENT"},
            headers=admin,
        ).json()
        deadline = time.monotonic() + 10  # the devices service learns of the user by event
        while http.get(f"/api/devices/user/{client['id']}", headers=admin).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the devices service never learned of the client")
            time.sleep(0.05)
        device_ids = []
        for i in range(500):
            body = {
                "name": f"meter {i:03d}",
                "address": f"{i} Bench Street",
                "max_hourly_kwh": 2.5,
                "owner_id": client["id"] if i % 25 == 0 else None,
            }
            response = http.post("/api/devices", json=body, headers=admin)
            response.raise_for_status()
            if body["owner_id"]:
                device_ids.append(response.json()["id"])
        token = login(http, "benchclient", PASSWORD)["Authorization"].split()[1]
    return token, device_ids[0], admin["Authorization"].split()[1]


def login(http: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = http.post("/api/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wrk(url: str, token: str, concurrency: int, seconds: int) -> dict[str, float]:
    """requests/s and latency percentiles from one wrk run (2 threads)."""
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors for {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    result = {"requests_per_s": round(rps, 1)}
    for p in ("50", "99"):
        match = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", output)
        assert match is not None, output
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        result[f"p{p}_ms"] = round(float(match.group(1)) * scale, 2)
    return result


def processes(*, parent: int | None = None, cmdline: str | None = None) -> list[int]:
    """PIDs of the children of `parent`, or of processes whose command line has `cmdline`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if (parent is not None and ppid == parent) or (cmdline and cmdline in command):
            found.append(int(entry.name))
    return found


def total_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (those gone count nothing)."""
    return sum(c for c in map(cpu_seconds, pids) if not math.isnan(c))


def measured(
    url: str,
    token: str,
    concurrency: int,
    seconds: int,
    pids: list[int],
    groups: Mapping[str, list[int]] | None = None,
) -> dict[str, Any]:
    """wrk's figures plus the CPU the serving processes spent per request: a figure that
    other load on the machine inflates much less than throughput (and, given `groups` of
    them, each group's share)."""
    groups = groups or {}
    before = total_cpu_seconds(pids)
    each = {name: total_cpu_seconds(group) for name, group in groups.items()}
    result: dict[str, Any] = wrk(url, token, concurrency, seconds)
    requests = result["requests_per_s"] * seconds
    spent = total_cpu_seconds(pids) - before
    result["server_cpu_ms_per_request"] = round(spent * 1000 / requests, 3)
    if groups:
        result["cpu_ms_per_request_by_process"] = {
            name: round((total_cpu_seconds(group) - each[name]) * 1000 / requests, 3)
            for name, group in groups.items()
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--direct", action="store_true", help="also straight to devices")
    parser.add_argument(
        "--replicas", type=int, default=service_spec("devices").replicas, help="devices processes"
    )
    bench_arguments(parser)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    report = begin(
        args,
        concurrency=args.concurrency,
        seconds=args.seconds,
        wrk_threads=2,
        devices_processes=args.replicas,
        goal={"share_of_jwks_rps": 0.5, "p99_ms": 100},
    )
    replicas = args.replicas
    ports: dict[str, int | list[int]] = {"auth": free_port(), "users": free_port()}
    ports["devices"] = [free_port() for _ in range(replicas)]
    with isolated_env() as env:
        env.update(
            EMS_AUTH_INTERNAL_URL=f"http://127.0.0.1:{ports['auth']}",
            EMS_USERS_INTERNAL_URL=f"http://127.0.0.1:{ports['users']}",
            EMS_ACCESS_TOKEN_TTL_SECONDS="900",
        )
        migrate(env, *SERVICES)
        with contextlib.ExitStack() as stack:
            urls = {
                name: stack.enter_context(service(env, name, _port(ports[name], 0)))
                for name in SERVICES
            }
            for i in range(1, replicas):
                stack.enter_context(service(env, "devices", _port(ports["devices"], i), i))
            gw, nginx = stack.enter_context(gateway(ports))
            wait_ready(urls["devices"])
            client, device_id, admin = seed(gw, env)
            serving = {
                name: [
                    pid
                    for i in range(replicas if name == "devices" else 1)
                    for pid in processes(cmdline=f"serve {name} --port {_port(ports[name], i)}")
                ]
                for name in SERVICES
            }
            front = [nginx, *processes(parent=nginx)]
            gateway_pids = [*front, *serving["auth"], *serving["devices"]]
            groups = {"nginx": front, "auth": serving["auth"], "devices": serving["devices"]}
            # This run's database backends (shown apart: not in the server CPU above).
            groups["postgres (not in the total)"] = processes(cmdline=env["EMS_DB_PREFIX"])
            jwks = "/api/auth/jwks.json"
            read, listing = f"/api/devices/{device_id}", "/api/devices"
            wrk(gw + read, client, args.concurrency, 2)  # warm-up
            baseline = measured(
                gw + jwks, client, args.concurrency, args.seconds, gateway_pids, groups
            )
            report["jwks.json (baseline)"] = baseline
            cases = {
                "client device read": (read, client),
                "client device list": (listing, client),
                "admin device read": (read, admin),
                "admin device list": (listing, admin),
            }
            for name, (path, token) in cases.items():
                through = measured(
                    gw + path, token, args.concurrency, args.seconds, gateway_pids, groups
                )
                through["share_of_jwks_rps"] = round(
                    through["requests_per_s"] / baseline["requests_per_s"], 3
                )
                report[name] = through
                if args.direct:
                    report[name + ", straight to devices"] = measured(
                        urls["devices"] + path,
                        token,
                        args.concurrency,
                        args.seconds,
                        serving["devices"],
                    )
    finish(args, report)


if __name__ == "__main__":
    main()
