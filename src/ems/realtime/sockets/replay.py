"""What a client missed while it was reconnecting.

Every instance sees every message on ems.ws, so each keeps the recent alerts and chat
messages per user for a while (bounded by count and age). After reconnecting, to any
instance, a client sends `{"type": "resume", "since": <ISO time or epoch ms>}` and gets
again what arrived after that moment. Replay is at-least-once: messages carry ids, and the
client drops the ones it has. The alert history (monitoring) and the chat history (support)
stay the complete record; this only closes the gap of a reconnect.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from datetime import datetime

from ems.contracts.ws import (
    AlertDigest,
    AlertsRead,
    Audience,
    ChatMessage,
    MeterBack,
    OverconsumptionAlert,
    SilentMeter,
)

REPLAYED_TYPES = frozenset(
    body.routing_key
    for body in (OverconsumptionAlert, SilentMeter, MeterBack, AlertDigest, AlertsRead, ChatMessage)
)


class Replay:
    def __init__(self, keep_seconds: float, per_user: int) -> None:
        self.keep_seconds = keep_seconds
        self.per_user = per_user
        self._users: dict[uuid.UUID, deque[tuple[float, str]]] = {}
        self._admins: deque[tuple[float, str]] = deque(maxlen=per_user)
        self._next_prune = time.monotonic() + keep_seconds

    def record(self, kind: str, audience: Audience, text: str, now: float | None = None) -> None:
        if kind not in REPLAYED_TYPES:
            return
        at = now if now is not None else time.time()
        for user_id in audience.user_ids:
            kept = self._users.get(user_id)
            if kept is None:
                kept = self._users[user_id] = deque(maxlen=self.per_user)
            kept.append((at, text))
        if audience.admins:
            self._admins.append((at, text))
        if time.monotonic() >= self._next_prune:
            self.prune(at)

    def since(self, user_id: uuid.UUID, is_admin: bool, after: float) -> list[str]:
        """Texts that arrived after `after` (epoch seconds), oldest first, each once."""
        picked = [item for item in self._users.get(user_id, ()) if item[0] > after]
        if is_admin:
            picked += [item for item in self._admins if item[0] > after]
        seen: set[str] = set()
        texts = []
        for _, text in sorted(picked, key=lambda item: item[0]):
            if text not in seen:
                seen.add(text)
                texts.append(text)
        return texts

    def prune(self, now: float | None = None) -> None:
        cutoff = (now if now is not None else time.time()) - self.keep_seconds
        for user_id in list(self._users):
            kept = self._users[user_id]
            while kept and kept[0][0] <= cutoff:
                kept.popleft()
            if not kept:
                del self._users[user_id]
        while self._admins and self._admins[0][0] <= cutoff:
            self._admins.popleft()
        self._next_prune = time.monotonic() + min(60.0, self.keep_seconds)


def parse_since(value: object) -> float | None:
    """Epoch seconds from an ISO 8601 time or epoch milliseconds; None when neither."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return parsed.timestamp()
    return None
