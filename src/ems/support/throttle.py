"""Per-client message rate limit: a bot conversation may reach a paid LLM, and an admin
inbox must not be flooded. A token bucket per user, in this process (support runs as one
replica; with more, each would allow its own share)."""

from __future__ import annotations

import math
import time
import uuid

from ems.common.errors import ApiError


class MessageThrottle:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}

    def check(self, user_id: uuid.UUID, now: float | None = None) -> None:
        """Take one message from the user's bucket; 429 with Retry-After when empty."""
        if self.rate <= 0:
            return
        at = now if now is not None else time.monotonic()
        tokens, last = self._buckets.get(user_id, (self.burst, at))
        tokens = min(self.burst, tokens + (at - last) * self.rate)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / self.rate)
            raise ApiError(
                429,
                "too_many_messages",
                "too many messages; please wait a moment",
                {"retry_after": wait},
                headers={"Retry-After": str(wait)},
            )
        self._buckets[user_id] = (tokens - 1.0, at)
        if len(self._buckets) > 100_000:
            self._forget_full(at)

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely carries no information.
        self._buckets = {
            u: (t, last)
            for u, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate < self.burst
        }
