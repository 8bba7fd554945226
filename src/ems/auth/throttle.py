"""Login throttling per account and per client address.

Failures are counted in a sliding window; over the limit, login answers 429 with
Retry-After until the oldest failure leaves the window. Nothing is ever locked for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth.models import LoginFailure
from ems.auth.settings import AuthSettings


@dataclass(frozen=True)
class Failures:
    since: datetime
    # scope -> (failures in the window, time of the oldest)
    by_scope: dict[str, tuple[int, datetime]]

    def count(self, scope: str) -> int:
        return self.by_scope.get(scope, (0, self.since))[0]


class LoginThrottle:
    def __init__(self, settings: AuthSettings) -> None:
        self.window = timedelta(seconds=settings.login_window_seconds)
        self.limits = {
            "account": settings.login_max_failures_per_account,
            "address": settings.login_max_failures_per_address,
        }

    async def failures(self, session: AsyncSession, keys: dict[str, str]) -> Failures:
        """Recent failures per scope, in one query."""
        since = datetime.now(UTC) - self.window
        rows = await session.execute(
            select(LoginFailure.scope, func.count(), func.min(LoginFailure.at))
            .where(
                LoginFailure.at > since,
                or_(
                    *(and_(LoginFailure.scope == s, LoginFailure.key == k) for s, k in keys.items())
                ),
            )
            .group_by(LoginFailure.scope)
        )
        return Failures(since, {scope: (count, oldest) for scope, count, oldest in rows})

    def retry_after(self, failures: Failures) -> int | None:
        """Seconds to wait when any scope is over its limit, else None."""
        wait = 0.0
        for scope, (count, oldest) in failures.by_scope.items():
            if count >= self.limits[scope]:
                wait = max(wait, (oldest - failures.since).total_seconds())
        return max(1, int(wait) + 1) if wait > 0 else None

    async def record_failure(self, session: AsyncSession, keys: dict[str, str]) -> None:
        since = datetime.now(UTC) - self.window
        for scope, key in keys.items():
            await session.execute(
                delete(LoginFailure).where(
                    LoginFailure.scope == scope, LoginFailure.key == key, LoginFailure.at <= since
                )
            )
            session.add(LoginFailure(scope=scope, key=key))

    async def clear_account(self, session: AsyncSession, username: str) -> None:
        await session.execute(
            delete(LoginFailure).where(
                LoginFailure.scope == "account", LoginFailure.key == username
            )
        )
