"""A background task that is started once and stopped by cancelling it and waiting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[Any] | None = None

    def start(self, work: Coroutine[Any, Any, Any]) -> None:
        if self.running():
            work.close()
            raise RuntimeError(f"{self.name} is already running")
        self._task = asyncio.create_task(work, name=self.name)
        self._task.add_done_callback(self._ended)

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s died", self.name, exc_info=task.exception())


async def every(interval: float, work: Any, what: str) -> None:
    """Run `work()` every `interval` seconds; a failed round is logged and tried again."""
    while True:
        await asyncio.sleep(interval)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s failed; will try again", what, exc_info=True)
