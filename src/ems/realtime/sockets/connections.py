"""The sockets this instance holds, by user, and delivery to exactly an audience.

Sending never waits on a slow client: a send that would block (the client's TCP buffer is
full) is finished in a task of its own while later messages queue behind it, so one stuck
reader never delays a fan-out to everyone else. In the usual case a send completes at once
and costs no task at all, which keeps fan-out to thousands of sockets cheap.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, cast

from prometheus_client import Counter, Gauge

from ems.common.security import Principal
from ems.contracts.identity import Revocation
from ems.contracts.ws import Audience

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

CONNECTIONS = Gauge("ems_ws_connections", "WebSocket connections open on this instance")
DELIVERED = Counter("ems_ws_messages_delivered_total", "Messages handed to sockets")
DROPPED_SLOW = Counter("ems_ws_slow_clients_dropped_total", "Sockets closed for not reading")

# Close codes (4xxx are ours; the web app logs out on 4401).
CLOSE_BAD_TOKEN = 4401
CLOSE_USER_DELETED = 4403
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNSUPPORTED = 1003
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_RESTART = 1012

# Sends finished in tasks (slow clients only); kept so they are not garbage-collected.
_finishing: set[asyncio.Task[None]] = set()


class Connection:
    """One open, authenticated socket. `__slots__`: thousands of these live at once."""

    __slots__ = (
        "_send",
        "backlog",
        "backlog_limit",
        "closed",
        "expiry",
        "role",
        "session_id",
        "typing_at",
        "typing_tokens",
        "user_id",
        "username",
        "version",
    )

    def __init__(self, send: Send, principal: Principal, backlog_limit: int) -> None:
        self._send = send
        self.user_id = principal.user_id
        self.role = principal.role
        self.username = principal.username
        # What revocations name (the token's session and version); renewed with the token.
        self.session_id = principal.session_id
        self.version = principal.version
        self.backlog: deque[dict[str, Any]] | None = None
        self.backlog_limit = backlog_limit
        self.closed = False
        self.expiry: asyncio.TimerHandle | None = None
        self.typing_tokens = 0.0
        self.typing_at = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"

    def push_text(self, text: str) -> None:
        self.push({"type": "websocket.send", "text": text})

    def close(self, code: int, reason: str = "") -> None:
        """Close after what is already queued; later messages are dropped."""
        if not self.closed:
            self.push({"type": "websocket.close", "code": code, "reason": reason})
            self.closed = True
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None

    def push(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        if self.backlog is not None:
            if len(self.backlog) >= self.backlog_limit:
                DROPPED_SLOW.inc()
                self.backlog.clear()
                self.backlog.append(
                    {"type": "websocket.close", "code": CLOSE_TRY_AGAIN, "reason": "too slow"}
                )
                self.closed = True
                return
            self.backlog.append(message)
            return
        # ASGI `send` is a coroutine function; it is stepped by hand (see module doc).
        coro = cast(Coroutine[Any, Any, None], self._send(message))
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        except Exception:
            # The client is gone; its receive loop sees the disconnect and cleans up.
            self.closed = True
            return
        self.backlog = deque()
        task = asyncio.get_running_loop().create_task(self._finish(coro, waiting))
        _finishing.add(task)
        task.add_done_callback(_finishing.discard)

    async def _finish(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        try:
            await _resume(coro, waiting)
            while self.backlog:
                await self._send(self.backlog.popleft())
        except Exception:
            self.closed = True
        finally:
            self.backlog = None


async def _resume(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive a coroutine that was started by hand and suspended on `waiting` to its end,
    as the event loop's own task stepping would."""
    try:
        while True:
            try:
                if waiting is None:
                    await asyncio.sleep(0)
                else:
                    await waiting
            except Exception as exc:
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                waiting = coro.send(None)
            except StopIteration:
                return
    finally:
        coro.close()


class Hub:
    """Open connections by user and the set of admins' connections."""

    def __init__(
        self,
        on_first: Callable[[Connection], None] | None = None,
        on_last: Callable[[Connection], None] | None = None,
    ) -> None:
        self.by_user: dict[uuid.UUID, list[Connection]] = {}
        self.admins: set[Connection] = set()
        self.on_first = on_first
        self.on_last = on_last

    def __len__(self) -> int:
        return sum(len(c) for c in self.by_user.values())

    def add(self, conn: Connection) -> None:
        mine = self.by_user.setdefault(conn.user_id, [])
        mine.append(conn)
        if conn.is_admin:
            self.admins.add(conn)
        CONNECTIONS.inc()
        if len(mine) == 1 and self.on_first is not None:
            self.on_first(conn)

    def remove(self, conn: Connection) -> None:
        mine = self.by_user.get(conn.user_id)
        if mine is None or conn not in mine:
            return
        mine.remove(conn)
        self.admins.discard(conn)
        CONNECTIONS.dec()
        if not mine:
            del self.by_user[conn.user_id]
            if self.on_last is not None:
                self.on_last(conn)

    def targets(self, audience: Audience) -> Iterable[Connection]:
        """Every connection the audience names, each once."""
        if not audience.admins:
            if len(audience.user_ids) == 1:
                return self.by_user.get(audience.user_ids[0], ())
            return {c for uid in audience.user_ids for c in self.by_user.get(uid, ())}
        if not audience.user_ids:
            return self.admins
        chosen = set(self.admins)
        for uid in audience.user_ids:
            chosen.update(self.by_user.get(uid, ()))
        return chosen

    def deliver(self, audience: Audience, text: str) -> int:
        count = 0
        for conn in list(self.targets(audience)):
            conn.push_text(text)
            count += 1
        # Counted once per message, not per socket: a fan-out stays cheap.
        DELIVERED.inc(count)
        return count

    def to_admins(self, text: str) -> None:
        for conn in list(self.admins):
            conn.push_text(text)

    def close_user(
        self, user_id: uuid.UUID, code: int, reason: str, unless_role: str | None = None
    ) -> int:
        """Close a user's sockets (only those whose role differs from `unless_role`)."""
        closed = 0
        for conn in list(self.by_user.get(user_id, ())):
            if unless_role is None or conn.role != unless_role:
                conn.close(code, reason)
                closed += 1
        return closed

    def close_revoked(self, revocation: Revocation) -> int:
        """Close the sockets whose token a revocation stops: 4403 for a deleted user."""
        code = CLOSE_USER_DELETED if revocation.reason == "deleted" else CLOSE_BAD_TOKEN
        closed = 0
        for conn in list(self.by_user.get(revocation.user_id, ())):
            if revocation.session_id is not None:
                stopped = conn.session_id == revocation.session_id
            else:
                stopped = conn.version < (revocation.min_version or 0)
            if stopped:
                conn.close(code, f"session ended ({revocation.reason})")
                closed += 1
        return closed

    def close_all(self, code: int, reason: str) -> None:
        for conns in list(self.by_user.values()):
            for conn in conns:
                conn.close(code, reason)
