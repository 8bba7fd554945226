"""Publishing readings with broker confirms, a bounded number in flight, an optional rate,
and a progress line.

A reading counts as sent when the broker confirmed it; one whose confirm never came (the
connection dropped, the broker refused it) is published again once the link is back, so a
broker restart during a run loses nothing (monitoring drops the repeats).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO

from aiormq.abc import AbstractConnection

from ems.common.messaging import EXCHANGE_DATA
from ems.common.messaging.link import Link
from ems.common.messaging.publisher import BatchPublisher, properties
from ems.contracts.ingest import SENT_AT_HEADER
from ems.contracts.readings import reading_routing_key
from ems.simulator.readings import OutgoingReading


class ReadingPublisher:
    def __init__(self, amqp_url: str, *, window: int = 1000, name: str = "simulator") -> None:
        """`amqp_url` carries a login that may publish readings (the `meter` identity)."""
        self.window = window
        self.link = Link(amqp_url, name)
        self.link.on_connect(self._on_connect)
        self._batch: BatchPublisher | None = None
        self._slots = asyncio.Semaphore(window)
        self._unsettled = 0
        self._settled = asyncio.Event()
        self._retries: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.confirmed = 0
        self.retried = 0

    async def _on_connect(self, _: AbstractConnection) -> None:
        self._batch = BatchPublisher(await self.link.channel(confirms=True))

    async def start(self, timeout: float = 30.0) -> None:
        self.link.start()
        await self.link.wait_ready(timeout)

    async def publish(self, reading: OutgoingReading) -> None:
        """Hand one reading over; returns as soon as there is room in the window."""
        await self._slots.acquire()
        self.sent += 1
        self._unsettled += 1
        self._settled.clear()
        self._send(reading.body(), reading_routing_key(reading.device_id), 0.1)

    def _send(self, body: bytes, routing_key: str, pause: float) -> None:
        if self._batch is None or not self.link.is_connected():
            self._retry_later(body, routing_key, pause)
            return
        confirmation = self._batch.publish(
            body,
            exchange=EXCHANGE_DATA,
            routing_key=routing_key,
            properties=properties(self.link.user, headers={SENT_AT_HEADER: time.time_ns() // 1000}),
        )
        confirmation.add_done_callback(
            lambda done: self._on_confirm(done, body, routing_key, pause)
        )

    def _on_confirm(
        self, done: asyncio.Future[Any], body: bytes, routing_key: str, pause: float
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            self.retried += 1
            self._retry_later(body, routing_key, pause)
            return
        self.confirmed += 1
        self._slots.release()
        self._unsettled -= 1
        if self._unsettled == 0:
            self._settled.set()

    def _retry_later(self, body: bytes, routing_key: str, pause: float) -> None:
        async def retry() -> None:
            await asyncio.sleep(pause)
            await self.link.ready.wait()
            self._send(body, routing_key, min(pause * 2, 2.0))

        task = asyncio.create_task(retry())
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def drain(self) -> None:
        """Wait until every reading handed over is confirmed."""
        if self._unsettled:
            await self._settled.wait()

    async def close(self) -> None:
        for task in list(self._retries):
            task.cancel()
        await self.link.stop()


class Pacer:
    """Holds a loop to `rate` items a second (None: as fast as the window allows)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._started = time.monotonic()
        self._count = 0

    async def tick(self) -> None:
        self._count += 1
        if self.rate is None:
            return
        due = self._started + self._count / self.rate
        ahead = due - time.monotonic()
        # Sleeping for less than a millisecond costs more than it paces.
        if ahead > 0.002:
            await asyncio.sleep(ahead)


class Progress:
    """One status line a second: sent, confirmed, rate."""

    def __init__(self, publisher: ReadingPublisher, out: TextIO | None = None) -> None:
        self.publisher = publisher
        self.out = out or sys.stderr
        self._task: asyncio.Task[None] | None = None
        self._started = time.monotonic()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._print(final=True)

    async def _run(self) -> None:
        last = (time.monotonic(), 0)
        while True:
            await asyncio.sleep(1.0)
            now, confirmed = time.monotonic(), self.publisher.confirmed
            rate = (confirmed - last[1]) / (now - last[0])
            last = (now, confirmed)
            self._print(rate=rate)

    def _print(self, rate: float | None = None, final: bool = False) -> None:
        p = self.publisher
        elapsed = time.monotonic() - self._started
        if final:
            average = p.confirmed / elapsed if elapsed > 0 else 0.0
            line = f"done: {p.confirmed} readings confirmed in {elapsed:.1f} s ({average:.0f}/s)"
        else:
            line = (
                f"{elapsed:6.0f} s  sent {p.sent}  confirmed {p.confirmed}  "
                f"in flight {p.sent - p.confirmed}  {rate or 0:.0f}/s"
            )
        if p.retried:
            line += f"  (re-sent {p.retried})"
        print(line, file=self.out, flush=True)
