"""Sessions that end when they are ended: every process's in-memory copy of auth's
revocations, checked on every verified token (no database round trip).

auth records a revocation when a session is logged out (or its refresh token is replayed)
and when a user's password or role changes or the user is deleted (`Revocation`). Each
process polls `GET /internal/revocations?since=` about every second and keeps the entries
until the tokens they name have expired. A copy that could not be refreshed for longer than
`max_age` is not trusted: tokens are then refused with 503 rather than let through.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import Gauge

from ems.contracts.identity import Revocation, RevocationPage

log = logging.getLogger(__name__)

REVOCATIONS_AGE = Gauge(
    "ems_revocations_age_seconds", "Seconds since this process last synced auth's revocations"
)

# Fetches what was revoked since a cursor (None: everything still in force).
Fetch = Callable[[datetime | None], Awaitable[RevocationPage]]
Listener = Callable[[Revocation], object]

# A deleted user's revocation: above any version a token can carry.
ALL_VERSIONS = 2**31 - 1


class SessionEnded(Exception):
    """The token was revoked: its session ended or its user changed."""

    def __init__(self, revocation: Revocation) -> None:
        super().__init__(f"session ended ({revocation.reason})")
        self.revocation = revocation


class RevocationsUnknown(Exception):
    """This process has not heard from auth for too long to tell a revoked token."""


class Revocations:
    """The revocations in force, by session and by user, fed by `run()`."""

    def __init__(self, fetch: Fetch, *, interval: float = 1.0, max_age: float = 10.0) -> None:
        self._fetch = fetch
        self.interval = interval
        self.max_age = max_age
        self._sessions: dict[uuid.UUID, Revocation] = {}
        self._users: dict[uuid.UUID, Revocation] = {}
        self._cursor: datetime | None = None
        self._synced_at: float | None = None
        self._listeners: list[Listener] = []

    # --- the check, on every request --------------------------------------------------------
    def check(self, user_id: uuid.UUID, session_id: uuid.UUID, version: int) -> None:
        """Raise `SessionEnded` for a revoked token, `RevocationsUnknown` when unsure."""
        if self._synced_at is None or time.monotonic() - self._synced_at > self.max_age:
            raise RevocationsUnknown("revocations are not known right now")
        ended = self._sessions.get(session_id)
        if ended is not None:
            raise SessionEnded(ended)
        changed = self._users.get(user_id)
        if changed is not None and version < (changed.min_version or 0):
            raise SessionEnded(changed)

    @property
    def synced(self) -> bool:
        return self._synced_at is not None and time.monotonic() - self._synced_at <= self.max_age

    def on_revoked(self, listener: Listener) -> None:
        """Called with each revocation that takes effect here (realtime closes sockets)."""
        self._listeners.append(listener)

    # --- keeping the copy current -----------------------------------------------------------
    def apply(self, items: list[Revocation]) -> list[Revocation]:
        """Add revocations (repeats change nothing); returns those that were new here."""
        new = []
        for item in items:
            if item.session_id is not None:
                if item.session_id in self._sessions:
                    continue
                self._sessions[item.session_id] = item
            else:
                known = self._users.get(item.user_id)
                if known is not None and (known.min_version or 0) >= (item.min_version or 0):
                    continue
                self._users[item.user_id] = item
            new.append(item)
        for item in new:
            for listener in self._listeners:
                try:
                    listener(item)
                except Exception:
                    log.exception("revocation listener failed")
        return new

    def _forget_expired(self) -> None:
        now = datetime.now(UTC)
        for table in (self._sessions, self._users):
            for key in [k for k, v in table.items() if v.expires_at <= now]:
                del table[key]

    async def sync(self) -> None:
        """One poll: apply what auth revoked since the last one."""
        page = await self._fetch(self._cursor)
        self.apply(page.items)
        self._cursor = page.cursor
        self._synced_at = time.monotonic()
        REVOCATIONS_AGE.set(0)
        self._forget_expired()

    async def first_sync(self, timeout: float) -> bool:
        """Try to sync before serving (auth starts first); the loop goes on trying."""
        try:
            async with asyncio.timeout(timeout):
                await self.sync()
        except Exception as exc:
            log.warning("revocations not loaded yet", extra={"error": _describe(exc)})
            return False
        return True

    async def run(self) -> None:
        """Poll forever, every `interval` seconds."""
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._synced_at is not None:
                    REVOCATIONS_AGE.set(time.monotonic() - self._synced_at)
                if not failing:
                    log.warning("revocations not refreshed", extra={"error": _describe(exc)})
                failing = True
                continue
            if failing:
                log.info("revocations refreshed again")
            failing = False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
