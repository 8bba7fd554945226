"""Waiting for something in a test: poll with a timeout, never a bare sleep."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    timeout: float = ...,
    interval: float = ...,
    *,
    what: str = ...,
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T | None], timeout: float = ..., interval: float = ..., *, what: str = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    *,
    what: str = "condition",
) -> Any:
    """Poll `probe` (async or not) until it returns something truthy, and return that;
    fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout} s")
        await asyncio.sleep(interval)


def eventually_blocking(
    probe: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.1, *, what: str
) -> T:
    """`eventually` for synchronous tests (they have no event loop to wait in)."""
    result: T = asyncio.run(eventually(probe, timeout, interval, what=what))
    return result


async def held(
    probe: Callable[[], Awaitable[object]] | Callable[[], object],
    duration: float,
    interval: float = 0.05,
    *,
    what: str,
) -> None:
    """The opposite wait: `probe` stays truthy for all of `duration` seconds (something that
    must not happen, given the time it would take to happen); fail naming `what`."""
    deadline = time.monotonic() + duration
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if not result:
            raise AssertionError(f"{what}: stopped holding")
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(interval)
