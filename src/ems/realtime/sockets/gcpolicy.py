"""Keeping the garbage collector's pauses out of fan-out latency.

Thousands of long-lived sockets mean about a million objects the cyclic collector walks on
every full collection: bench/ws measured pauses of 0.5-2 s at 10,000 sockets, each one
delaying every delivery behind it. Objects that have lived for a while are moved out of
the collector's sight (`gc.freeze()`), so routine collections only walk what is new.
Reference counting still frees frozen objects; only garbage *cycles* among them wait for
the next full pass, which runs (unfrozen, then frozen again) at a long, fixed interval.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)


async def keep_collections_short(freeze_every: float, full_every: float) -> None:
    gc.freeze()
    last_full = time.monotonic()
    while True:
        await asyncio.sleep(freeze_every)
        if full_every > 0 and time.monotonic() - last_full >= full_every:
            started = time.perf_counter()
            gc.unfreeze()
            collected = gc.collect()
            last_full = time.monotonic()
            log.info(
                "full garbage collection",
                extra={
                    "collected": collected,
                    "pause_ms": round((time.perf_counter() - started) * 1000),
                },
            )
        gc.freeze()
