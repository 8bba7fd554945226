"""Who is online, shared by every realtime instance without a database.

Each instance gossips on `ems.ws` (type `presence.sync`, an empty audience so it reaches no
socket): who came and went since the last flush (`delta`), everyone it holds (`snapshot`,
every interval and when a new instance says `hello`) and `bye` when it stops. Every
instance merges what it hears into one view and tells its own admins when a user's status
changes anywhere. An instance that dies silently is forgotten after three intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, NamedTuple

from ems.common.tasks import Background

log = logging.getLogger(__name__)

PRESENCE_TYPE = "presence.sync"


class Member(NamedTuple):
    username: str
    role: str


Publish = Callable[[dict[str, Any]], Awaitable[None]]
Notify = Callable[[uuid.UUID, Member, bool], None]


@dataclass(eq=False)
class Presence:
    instance_id: str
    # Gossip to the other instances; who came or went, for this instance's admins.
    publish: Publish
    notify: Notify
    _: KW_ONLY
    interval: float
    flush: float
    local: dict[uuid.UUID, Member] = field(default_factory=dict, init=False)
    # Other instances: when last heard from, and who they hold.
    remote: dict[str, tuple[float, dict[uuid.UUID, Member]]] = field(
        default_factory=dict, init=False
    )
    _changes: dict[uuid.UUID, Member | None] = field(default_factory=dict, init=False)
    _snapshot_due: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _gossip: Background = field(default_factory=lambda: Background("presence"), init=False)

    # --- the view ---------------------------------------------------------------------
    def member(self, user_id: uuid.UUID) -> Member | None:
        if user_id in self.local:
            return self.local[user_id]
        for _, users in self.remote.values():
            if user_id in users:
                return users[user_id]
        return None

    def members(self) -> dict[uuid.UUID, Member]:
        merged: dict[uuid.UUID, Member] = {}
        for _, users in self.remote.values():
            merged.update(users)
        merged.update(self.local)
        return merged

    # --- this instance's own sockets ----------------------------------------------------
    def went_online(self, user_id: uuid.UUID, member: Member) -> None:
        was = self.member(user_id) is not None
        self.local[user_id] = member
        self._changes[user_id] = member
        if not was:
            self.notify(user_id, member, True)

    def went_offline(self, user_id: uuid.UUID) -> None:
        member = self.local.pop(user_id, None)
        if member is None:
            return
        self._changes[user_id] = None
        if self.member(user_id) is None:
            self.notify(user_id, member, False)

    # --- what other instances say ---------------------------------------------------------
    def apply(self, data: dict[str, Any]) -> None:
        instance = str(data.get("instance", ""))
        kind = data.get("kind")
        if not instance or instance == self.instance_id:
            return
        before = self.members()
        if kind == "hello":
            self._snapshot_due.set()
            return
        if kind == "bye":
            self.remote.pop(instance, None)
        elif kind == "snapshot":
            self.remote[instance] = (time.monotonic(), _decode(data.get("users", [])))
        elif kind == "delta":
            _, users = self.remote.get(instance, (0.0, {}))
            users = dict(users)
            users.update(_decode(data.get("online", [])))
            for raw in data.get("offline", []):
                users.pop(uuid.UUID(str(raw)), None)
            self.remote[instance] = (time.monotonic(), users)
        else:
            return
        self._announce(before)

    def expire(self, now: float | None = None) -> None:
        """Forget instances not heard from for three intervals (they died silently)."""
        cutoff = (now if now is not None else time.monotonic()) - 3 * self.interval
        stale = [name for name, (seen, _) in self.remote.items() if seen < cutoff]
        if stale:
            before = self.members()
            for name in stale:
                del self.remote[name]
            self._announce(before)

    def _announce(self, before: dict[uuid.UUID, Member]) -> None:
        after = self.members()
        for user_id, member in after.items():
            if user_id not in before:
                self.notify(user_id, member, True)
        for user_id, member in before.items():
            if user_id not in after:
                self.notify(user_id, member, False)

    # --- gossip ---------------------------------------------------------------------------
    def start(self) -> None:
        self._gossip.start(self.run())

    async def stop(self) -> None:
        """Stop gossiping and tell the other instances this one's users are gone."""
        await self._gossip.stop()
        await self._send({"kind": "bye"})

    async def run(self) -> None:
        """Publish changes every `flush` seconds and the full list every `interval`."""
        await self._send({"kind": "hello"})
        await self._send_snapshot()
        next_snapshot = time.monotonic() + self.interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._snapshot_due.wait(), self.flush)
            if self._changes:
                changes, self._changes = self._changes, {}
                await self._send(
                    {
                        "kind": "delta",
                        "online": [_encode(u, m) for u, m in changes.items() if m is not None],
                        "offline": [str(u) for u, m in changes.items() if m is None],
                    }
                )
            if self._snapshot_due.is_set() or time.monotonic() >= next_snapshot:
                self._snapshot_due.clear()
                await self._send_snapshot()
                self.expire()
                next_snapshot = time.monotonic() + self.interval

    async def _send_snapshot(self) -> None:
        await self._send(
            {"kind": "snapshot", "users": [_encode(u, m) for u, m in self.local.items()]}
        )

    async def _send(self, data: dict[str, Any]) -> None:
        try:
            await self.publish({"instance": self.instance_id, **data})
        except Exception:
            # The next snapshot repairs what a lost message left out.
            log.warning("presence could not be published", exc_info=True)


def _encode(user_id: uuid.UUID, member: Member) -> list[str]:
    return [str(user_id), member.username, member.role]


def _decode(rows: Any) -> dict[uuid.UUID, Member]:
    users: dict[uuid.UUID, Member] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, list) and len(row) == 3:
            users[uuid.UUID(str(row[0]))] = Member(str(row[1]), str(row[2]))
    return users


def presence_text(user_id: uuid.UUID, member: Member, online: bool) -> str:
    """The message an admin's socket gets when someone comes or goes."""
    return json.dumps(
        {
            "type": "presence.changed",
            "user_id": str(user_id),
            "username": member.username,
            "role": member.role,
            "online": online,
        }
    )
