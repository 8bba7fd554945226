"""Acking deliveries in order once their forwards are confirmed.

Forwards are confirmed by the broker in roughly the order they were sent. A delivery is
acked only when it and every earlier delivery of its channel are settled, so one `multiple`
ack covers a whole run of confirmed deliveries; a delivery whose forward failed is nacked
back to its queue on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any


class InOrderAcks:
    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._pending: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, delivery_tag: int) -> asyncio.Future[None]:
        """A slot for a delivery, to be resolved (or failed) when its forward settles.

        Must be called in delivery order."""
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery_tag, slot))
        slot.add_done_callback(self._advance)
        return slot

    def __len__(self) -> int:
        return len(self._pending)

    def _advance(self, _: asyncio.Future[None]) -> None:
        last_ok: int | None = None
        while self._pending and self._pending[0][1].done():
            tag, slot = self._pending.popleft()
            if slot.cancelled() or slot.exception() is not None:
                if last_ok is not None:
                    self._send(self.channel.basic_ack(last_ok, multiple=True, wait=False))
                    last_ok = None
                self._send(self.channel.basic_nack(tag, requeue=True, wait=False))
            else:
                last_ok = tag
        if last_ok is not None:
            self._send(self.channel.basic_ack(last_ok, multiple=True, wait=False))

    def _send(self, frame: Any) -> None:
        task = asyncio.ensure_future(_quietly(frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _quietly(frame: Any) -> None:
    # On a closed channel the broker has already requeued the deliveries: nothing to do.
    with contextlib.suppress(Exception):
        await frame
