"""Reading published → alert received over a WebSocket, through the whole pipeline.

Real processes (`ems serve`): auth (tokens), balancer, two monitoring replicas, realtime.
Devices reach monitoring as `device.created` events on ems.sync (published here, as the
devices service would). A background load of `--rate` readings/s goes to devices far below
their limit; every `--probe-gap` seconds one probe reading of 5 kWh goes to a device with a
1 kWh limit, each in an hour of its own so that each raises exactly one alert. Latency is
publish (after the broker's confirm was requested) → `notify.overconsumption` received by
the owner's socket.

    uv run python bench/ws_pipeline.py [--rate 1000] [--probes 100] [--probe-gap 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from _support import (
    begin,
    bench_arguments,
    broker_url,
    finish,
    free_port,
    isolated_env,
    migrate,
    percentile,
    service,
    summary,
)
from websockets.asyncio.client import connect

from ems.common.messaging import EXCHANGE_DATA, EXCHANGE_SYNC, Broker
from ems.common.messaging.topology import DEVICES, METER
from ems.contracts.events import DeviceCreated, Envelope
from ems.contracts.readings import reading_routing_key


async def _register(auth_url: str) -> tuple[uuid.UUID, str]:
    name = f"bench{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=auth_url, timeout=30) as http:
        created = await http.post(
            "/api/auth/register", json={"username": name, "password": "correct-horse-1"}
        )
        created.raise_for_status()
        login = await http.post(
            "/api/auth/login", json={"username": name, "password": "correct-horse-1"}
        )
        login.raise_for_status()
        body = login.json()
    return uuid.UUID(body["user"]["id"]), body["access_token"]


async def _publish_device(broker: Broker, device: DeviceCreated) -> None:
    envelope = Envelope.wrap(device)
    await broker.publish(EXCHANGE_SYNC, envelope.type, envelope.model_dump_json().encode())


def _reading(device: uuid.UUID, at: datetime, kwh: float) -> bytes:
    return json.dumps(
        {"device_id": str(device), "timestamp": at.isoformat(), "measurement_value": kwh}
    ).encode()


def background_process(
    amqp_url: str, devices: list[uuid.UUID], rate: int, stop: Any, counts: Any
) -> None:
    """The background load in a process of its own, so it never starves the listener."""

    async def run() -> None:
        broker = Broker(amqp_url, "bench-background")
        await broker.connect()
        try:
            counts[0], counts[1] = await _background(broker, devices, rate, stop, counts)
        finally:
            await broker.close()

    asyncio.run(run())


async def _background(
    broker: Broker, devices: list[uuid.UUID], rate: int, stop: Any, counts: Any
) -> tuple[int, int]:
    """`rate` readings per second until `stop` is set, up to 1,000 awaiting their confirm
    at once (publishing in lockstep with confirms cannot keep up); (sent, failed)."""
    sent, failed, started = 0, 0, time.monotonic()
    in_flight = asyncio.Semaphore(1000)
    pending: set[asyncio.Task[None]] = set()

    async def publish(device: uuid.UUID) -> None:
        nonlocal failed
        try:
            await broker.publish(
                EXCHANGE_DATA,
                reading_routing_key(device),
                _reading(device, datetime.now(UTC), 0.001),
            )
        except Exception:
            failed += 1
        finally:
            in_flight.release()

    counts[2] = 1  # running: the parent starts its clock now
    while not stop.is_set():
        counts[0] = sent
        due = int((time.monotonic() - started) * rate) - sent
        for _ in range(max(0, due)):
            await in_flight.acquire()
            task = asyncio.create_task(publish(devices[sent % len(devices)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.sleep(0.01)
    await asyncio.gather(*pending)
    return sent, failed


async def run(
    args: argparse.Namespace, env: dict[str, str], urls: dict[str, str]
) -> dict[str, Any]:
    # Device events as the devices service sends them, readings as a meter does.
    devices = Broker(broker_url(env, DEVICES), "bench-devices")
    broker = Broker(broker_url(env, METER), "bench-meter")
    await devices.connect()
    await broker.connect()
    owner, token = await _register(urls["auth"])
    probe_device = uuid.uuid4()
    background = [uuid.uuid4() for _ in range(args.background_devices)]
    await _publish_device(
        devices, DeviceCreated(id=probe_device, name="probe", owner_id=owner, max_hourly_kwh=1.0)
    )
    for device in background:
        await _publish_device(
            devices,
            DeviceCreated(id=device, name="bg", owner_id=uuid.uuid4(), max_hourly_kwh=1e6),
        )
    await asyncio.sleep(2.0)  # monitoring applies the device events
    received: dict[str, float] = {}
    # Wall clock: when monitoring stored the alert, and when the socket had it.
    stored_at: dict[str, float] = {}
    wall_received: dict[str, float] = {}
    ws_url = urls["realtime"].replace("http://", "ws://") + f"/ws?token={token}"
    async with connect(ws_url, compression=None, max_size=None, ping_interval=None) as ws:

        async def listen() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "notify.overconsumption":
                    received.setdefault(message["hour"], time.monotonic())
                    wall_received.setdefault(message["hour"], time.time())
                    created = datetime.fromisoformat(message["created_at"].replace("Z", "+00:00"))
                    stored_at.setdefault(message["hour"], created.timestamp())

        listener = asyncio.create_task(listen())
        ctx = mp.get_context("spawn")
        stop, counts = ctx.Event(), ctx.Array("q", 3, lock=False)
        load = ctx.Process(
            target=background_process,
            args=(broker_url(env, METER), background, args.rate, stop, counts),
        )
        load.start()
        while not counts[2]:
            await asyncio.sleep(0.05)
        load_started = time.monotonic()
        await asyncio.sleep(3.0)  # the background load is in its stride
        sent: dict[str, float] = {}
        hour0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for k in range(1, args.probes + 1):
            hour = hour0 - timedelta(hours=k)
            key = hour.isoformat().replace("+00:00", "Z")
            sent[key] = time.monotonic()
            await broker.publish(
                EXCHANGE_DATA,
                reading_routing_key(probe_device),
                _reading(probe_device, hour + timedelta(minutes=10), 5.0),
            )
            await asyncio.sleep(args.probe_gap)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(received) < len(sent):
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.to_thread(load.join, 60)
        background_sent, background_failed = counts[0], counts[1]
        elapsed = time.monotonic() - load_started
        sent_during = counts[0]
        listener.cancel()
    await broker.close()
    await devices.close()
    after_store = [wall_received[h] - stored_at[h] for h in wall_received if h in stored_at]
    latencies = []
    for stamp, at in received.items():
        key = _normal(stamp)
        if key in sent:
            latencies.append(at - sent[key])
    return {
        "background_rate_per_s": args.rate,
        "background_sent": background_sent,
        "background_unconfirmed": background_failed,
        "seconds": round(elapsed, 1),
        "background_achieved_per_s": round(sent_during / elapsed),
        "probes": args.probes,
        "alerts_received": len(latencies),
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in summary(latencies).items()},
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        # From monitoring storing the alert to the socket: outbox relay, broker, realtime.
        "after_store_p50_ms": round(percentile(after_store, 50) * 1000, 1),
        "after_store_p99_ms": round(percentile(after_store, 99) * 1000, 1),
    }


def _normal(hour: str) -> str:
    parsed = datetime.fromisoformat(hour.replace("Z", "+00:00")).astimezone(UTC)
    return parsed.isoformat().replace("+00:00", "Z")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--probe-gap", type=float, default=0.3)
    parser.add_argument("--background-devices", type=int, default=200)
    bench_arguments(parser)
    args = parser.parse_args()
    report = begin(args)
    with isolated_env() as env:
        env.update(
            EMS_DEVICES_INTERNAL_URL="", EMS_USERS_INTERNAL_URL="", EMS_MONITORING_REPLICAS="2"
        )
        migrate(env, "auth", "monitoring")
        ports = {name: free_port() for name in ("auth", "balancer", "m0", "m1", "realtime")}
        env["EMS_AUTH_INTERNAL_URL"] = f"http://127.0.0.1:{ports['auth']}"
        with (
            service(env, "auth", ports["auth"]) as auth,
            service(env, "monitoring", ports["m0"], 0),
            service(env, "monitoring", ports["m1"], 1),
            service(env, "balancer", ports["balancer"]),
            service(env, "realtime", ports["realtime"]) as realtime,
        ):
            report |= asyncio.run(run(args, env, {"auth": auth, "realtime": realtime}))
    finish(args, report)


if __name__ == "__main__":
    main()
