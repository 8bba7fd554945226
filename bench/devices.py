"""Device list and device read through the nginx gateway, against the same requests sent
straight to the devices service (the baseline), in one run, at a fixed concurrency.

auth, users and devices run as real processes (`ems serve`), one worker each, with the
gateway generated from their specs as `ems up` does. The caller is a client with 20
devices among 500; every request carries their access token, so the gateway's forward
auth runs on each one (its 1 s verify cache sees one token: the cheap case), and the
devices service verifies the token and reads the caller's current role itself.

    uv run python bench/devices.py [--concurrency 32] [--seconds 10]

Needs wrk (apt-get install wrk) and nginx.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _support import free_port, isolated_env, machine, migrate, service, wait_ready

from ems.common.credentials import gateway_credential, master_key
from ems.common.registry import service_spec
from ems.common.settings import CommonSettings
from ems.gateway.nginx import GatewayConfig, placeholder_root, render, upstreams_from_specs

ADMIN, ADMIN_PASSWORD = "benchadmin", "bench-admin-password"
PASSWORD = "correct-horse-battery"
SERVICES = ("auth", "users", "devices")


@contextlib.contextmanager
def gateway(ports: dict[str, int]) -> Iterator[tuple[str, int]]:
    """nginx in front of the services, rendered from their specs."""
    folder = Path(tempfile.mkdtemp(prefix="ems-bench-gw-"))
    (folder / "run").mkdir()
    (folder / "logs").mkdir()
    port = free_port()
    config = GatewayConfig(
        listen_host="127.0.0.1",
        listen_port=port,
        run_dir=folder / "run",
        log_dir=folder / "logs",
        static_root=placeholder_root(),
        services=upstreams_from_specs(
            [service_spec(name) for name in SERVICES], lambda spec, _: ports[spec.name]
        ),
        run_as_root=os.geteuid() == 0,
        # The services derive their secrets from the development key under EMS_DATA_DIR.
        service_credential=gateway_credential(master_key(CommonSettings(), None)),
    )
    (folder / "nginx.conf").write_text(render(config))
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin") or "nginx"
    proc = subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
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


def seed(url: str, env: dict[str, str]) -> tuple[str, str]:
    """A client owning 20 of 500 devices; returns their token and one of their device ids."""
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
    return token, device_ids[0]


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


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def measured(
    url: str, token: str, concurrency: int, seconds: int, pids: list[int]
) -> dict[str, float]:
    """wrk's figures plus the CPU the serving processes spent per request: a figure that
    other load on the machine inflates much less than throughput."""
    before = cpu_seconds(pids)
    result = wrk(url, token, concurrency, seconds)
    spent = cpu_seconds(pids) - before
    result["server_cpu_ms_per_request"] = round(
        spent * 1000 / (result["requests_per_s"] * seconds), 3
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    ports = {name: free_port() for name in SERVICES}
    report: dict[str, Any] = {
        "machine": machine(),
        # Client, gateway and services share the cores (with whatever else runs).
        "load_average_before": round(os.getloadavg()[0], 2),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
    }
    with isolated_env() as env:
        env.update(
            EMS_AUTH_INTERNAL_URL=f"http://127.0.0.1:{ports['auth']}",
            EMS_USERS_INTERNAL_URL=f"http://127.0.0.1:{ports['users']}",
            EMS_ACCESS_TOKEN_TTL_SECONDS="900",
        )
        migrate(env, *SERVICES)
        with contextlib.ExitStack() as stack:
            urls = {name: stack.enter_context(service(env, name, ports[name])) for name in SERVICES}
            gw, nginx = stack.enter_context(gateway(ports))
            wait_ready(urls["devices"])
            token, device_id = seed(gw, env)
            serving = {
                name: processes(cmdline=f"serve {name} --port {ports[name]}") for name in SERVICES
            }
            direct_pids = serving["devices"]
            gateway_pids = [nginx, *processes(parent=nginx), *serving["auth"], *direct_pids]
            cases = {"device list": "/api/devices", "device read": f"/api/devices/{device_id}"}
            for name, path in cases.items():
                wrk(gw + path, token, args.concurrency, 2)  # warm-up
                direct = measured(
                    urls["devices"] + path, token, args.concurrency, args.seconds, direct_pids
                )
                through = measured(gw + path, token, args.concurrency, args.seconds, gateway_pids)
                report[name] = {
                    "direct": direct,
                    "gateway": through,
                    "gateway_share_of_direct_rps": round(
                        through["requests_per_s"] / direct["requests_per_s"], 2
                    ),
                }
    report["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
