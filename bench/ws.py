"""WebSocket benchmark for one realtime process.

1. Connections held: N sockets (each a different CLIENT user with a real EdDSA token) are
   opened and left idle; memory per connection = (RSS with N open - RSS before) / N.
2. Fan-out: E events, each addressed to all N users, are published on ems.ws; latency is
   publish → frame received, for every socket and event (p50/p99/max), and per event the
   time until the last socket had it.

The clients are raw asyncio protocols (handshake, frame parsing, pong) split over several
processes, so that the client side costs little next to the server. Client and server
share the machine's cores, as in NOTES.md's baseline.

    uv run python bench/ws.py [--connections 10000] [--events 20] [--impl websockets-sansio]
    uv run --with wsproto python bench/ws.py --impl wsproto
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import multiprocessing as mp
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from _support import (
    begin,
    bench_arguments,
    broker_url,
    cpu_seconds,
    finish,
    free_port,
    isolated_env,
    percentile,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ems.common.messaging import EXCHANGE_WS, Broker
from ems.common.messaging.topology import MONITORING
from ems.contracts.ws import Audience, WsEnvelope

HERE = Path(__file__).resolve().parent
ISSUER, AUDIENCE = "ems-auth", "ems"
SEQ_MARK = b'"bench_seq":'


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def make_tokens(key: Ed25519PrivateKey, kid: str, n: int) -> list[tuple[str, str]]:
    exp = datetime.now(UTC) + timedelta(hours=2)
    tokens = []
    for i in range(n):
        uid = str(uuid.uuid4())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": uid,
            "name": f"bench{i}",
            "role": "CLIENT",
            "typ": "access",
            # A session and token version, as auth issues them (realtime refuses tokens without).
            "sid": str(uuid.uuid4()),
            "ver": 1,
            "iat": datetime.now(UTC),
            "exp": exp,
        }
        tokens.append((uid, jwt.encode(claims, key, "EdDSA", headers={"kid": kid})))
    return tokens


# --- the client side (runs in child processes) -------------------------------------------


class Client(asyncio.Protocol):
    """A minimal WebSocket client: handshake, unmasked server frames, pongs."""

    def __init__(self, path: str, host: str, welcomed: asyncio.Future[None], log: list[Any]):
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.welcomed = welcomed
        self.log = log
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.welcomed.done():
            self.welcomed.set_exception(ConnectionError("closed before welcome"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in self.buf[:end]:
                self.welcomed.set_exception(ConnectionError(bytes(self.buf[:end]).decode()))
                return
            del self.buf[: end + 4]
            self.upgraded = True
        buf = self.buf
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            head = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, head = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, head = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < head + length:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[head : head + length])
            del buf[: head + length]
            if opcode == 1:
                at = payload.find(SEQ_MARK)
                if at >= 0:
                    end = payload.find(b",", at)
                    self.log.append((int(payload[at + len(SEQ_MARK) : end]), now))
                elif not self.welcomed.done() and b'"welcome"' in payload:
                    self.welcomed.set_result(None)
            elif opcode == 9:  # ping: answer with a masked pong
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)  # type: ignore[union-attr]


def client_process(
    port: int,
    tokens: list[str],
    ready: Any,
    stop: Any,
    results: Any,
    batch: int,
    progress: Any,
    slot: int,
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def run() -> None:
        loop = asyncio.get_running_loop()
        log: list[tuple[int, float]] = []
        transports = []
        failures = 0
        host = f"127.0.0.1:{port}"
        for start in range(0, len(tokens), batch):
            futures = []
            for token in tokens[start : start + batch]:
                welcomed: asyncio.Future[None] = loop.create_future()
                futures.append(welcomed)
                transport, _ = await loop.create_connection(
                    functools.partial(Client, f"/ws?token={token}", host, welcomed, log),
                    "127.0.0.1",
                    port,
                )
                transports.append(transport)
            for outcome in await asyncio.gather(*futures, return_exceptions=True):
                failures += isinstance(outcome, BaseException)
        ready.put((len(tokens) - failures, failures))
        while not stop.is_set():
            progress[slot] = len(log)
            await asyncio.sleep(0.1)
        results.put(log)
        for transport in transports:
            transport.close()

    asyncio.run(run())


# --- the orchestrator ---------------------------------------------------------------------

AUDIENCE_CHUNK = 1000


async def publish_events(
    amqp_url: str, user_ids: list[str], events: int, gap: float
) -> dict[int, float]:
    broker = Broker(amqp_url, "bench-ws")
    await broker.connect()
    # The broker refuses bodies over MAX_MESSAGE_BYTES (64 KiB, about 1,600 user ids), so
    # one event for every socket travels as one message per AUDIENCE_CHUNK users, published
    # back to back; the fan-out is timed from the first of them.
    ids = [uuid.UUID(u) for u in user_ids]
    audiences = [
        Audience(user_ids=ids[i : i + AUDIENCE_CHUNK]) for i in range(0, len(ids), AUDIENCE_CHUNK)
    ]
    sent: dict[int, float] = {}
    try:
        for seq in range(events):
            bodies = [
                WsEnvelope(
                    # As monitoring sends live figures (the sender realtime accepts them from).
                    type="consumption.updated",
                    audience=audience,
                    data={"bench_seq": seq, "pad": "x"},
                )
                .model_dump_json()
                .encode()
                for audience in audiences
            ]
            sent[seq] = time.time()
            for body in bodies:
                await broker.publish(EXCHANGE_WS, "consumption.updated", body, persistent=False)
            await asyncio.sleep(gap)
    finally:
        await broker.close()
    return sent


def run(args: argparse.Namespace) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    kid = uuid.uuid4().hex
    public_hex = key.public_key().public_bytes_raw().hex()
    users = make_tokens(key, kid, args.connections)
    port = free_port()
    with isolated_env() as env:
        server = subprocess.Popen(
            [sys.executable, str(HERE / "ws_server.py"), str(port), args.impl, public_hex, kid],
            env=env,
        )
        ctx = mp.get_context("fork")
        ready, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        try:
            _wait_port(port, server)
            time.sleep(1.0)  # let start-up allocations settle before the baseline
            baseline = rss_kib(server.pid)
            progress = ctx.Array("q", args.client_procs, lock=False)
            shares = [users[i :: args.client_procs] for i in range(args.client_procs)]
            procs = [
                ctx.Process(
                    target=client_process,
                    args=(
                        port,
                        [t for _, t in share],
                        ready,
                        stop,
                        results,
                        args.batch,
                        progress,
                        slot,
                    ),
                )
                for slot, share in enumerate(shares)
            ]
            started = time.monotonic()
            for p in procs:
                p.start()
            counts = [ready.get(timeout=600) for _ in procs]
            connect_seconds = time.monotonic() - started
            held = sum(c for c, _ in counts)
            failed = sum(f for _, f in counts)
            if failed > args.connections // 100:
                # A figure over a fraction of the sockets is no figure: say so and stop.
                raise RuntimeError(f"{failed} of {args.connections} sockets were refused")
            time.sleep(args.settle)  # idle: presence flushed, allocations settled
            held_rss = rss_kib(server.pid)
            cpu_before = cpu_seconds(server.pid)
            sent = asyncio.run(
                publish_events(
                    broker_url(env, MONITORING), [u for u, _ in users], args.events, args.gap
                )
            )
            _wait_deliveries(progress, args.events * held)
            hand_off = _hand_off_seconds(port)
            cpu_events = cpu_seconds(server.pid) - cpu_before
            stop.set()
            logs = [results.get(timeout=120) for _ in procs]
            for p in procs:
                p.join(30)
            alive = server.poll() is None
        finally:
            stop.set()  # the client processes end even when the run failed half-way
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
    gc.collect()
    latencies: list[float] = []
    last: dict[int, float] = {}
    per_event: dict[int, int] = {}
    for log in logs:
        for seq, at in log:
            latencies.append(at - sent[seq])
            last[seq] = max(last.get(seq, 0.0), at)
            per_event[seq] = per_event.get(seq, 0) + 1
    all_in = sorted(last[s] - sent[s] for s in last)
    return {
        "impl": args.impl,
        "connections_requested": args.connections,
        "connections_held": held,
        "connections_failed": failed,
        "connect_seconds": round(connect_seconds, 1),
        "server_alive": alive,
        "rss_baseline_mib": round(baseline / 1024, 1),
        "rss_held_mib": round(held_rss / 1024, 1),
        "kib_per_connection": round((held_rss - baseline) / max(held, 1), 1),
        "events": args.events,
        "deliveries": len(latencies),
        "deliveries_expected": args.events * held,
        "fanout_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "fanout_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "fanout_max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        "all_sockets_p50_ms": round(percentile(all_in, 50) * 1000, 1),
        "all_sockets_max_ms": round(max(all_in, default=float("nan")) * 1000, 1),
        "server_hand_off_mean_ms": round(hand_off * 1000, 1),
        # CPU the server spent per event while the events ran (idle upkeep included): the
        # figure that other processes on the machine distort least.
        "server_cpu_ms_per_event": round(cpu_events / max(args.events, 1) * 1000, 1),
        "all_sockets_per_event_ms": [round((last[s] - sent[s]) * 1000) for s in sorted(last)],
        # Events (by their order) that did not reach every socket held, with how many it did.
        "events_short": {s: per_event.get(s, 0) for s in sent if per_event.get(s, 0) < held},
    }


def _hand_off_seconds(port: int) -> float:
    """Mean time the server took to hand one fan-out message to all its sockets."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line.startswith(("ems_ws_fanout_seconds_sum", "ems_ws_fanout_seconds_count")):
            name, value = line.split()
            values[name] = float(value)
    count = values.get("ems_ws_fanout_seconds_count", 0.0)
    return values.get("ems_ws_fanout_seconds_sum", 0.0) / count if count else float("nan")


def _wait_deliveries(progress: Any, expected: int, quiet: float = 5.0) -> None:
    """Until every delivery arrived, or none arrived for `quiet` seconds."""
    last, last_change = -1, time.monotonic()
    while True:
        now_count = sum(progress)
        if now_count >= expected:
            return
        if now_count != last:
            last, last_change = now_count, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            return
        time.sleep(0.1)


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("realtime server not ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between events")
    parser.add_argument(
        "--impl",
        default="websockets-sansio",
        choices=["websockets-sansio", "websockets", "wsproto"],
    )
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=250, help="connections opened at once")
    parser.add_argument("--settle", type=float, default=3.0)
    bench_arguments(parser)
    args = parser.parse_args()
    report = begin(args)
    report |= run(args)
    finish(args, report)


if __name__ == "__main__":
    main()
