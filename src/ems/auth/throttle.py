"""Login throttling per account and per client address.

Failures are counted in a sliding window; over the limit, login answers 429 with
Retry-After until the oldest failure leaves the window. Nothing is ever locked for good.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth.models import LoginFailure
from ems.auth.settings import AuthSettings


class LoginThrottle:
    def __init__(self, settings: AuthSettings) -> None:
        self.window = timedelta(seconds=settings.login_window_seconds)
        self.limits = {
            "account": settings.login_max_failures_per_account,
            "address": settings.login_max_failures_per_address,
        }

    async def retry_after(self, session: AsyncSession, keys: dict[str, str]) -> int | None:
        """Seconds to wait when any key is over its limit, else None."""
        since = datetime.now(UTC) - self.window
        wait = 0.0
        for scope, key in keys.items():
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(LoginFailure.at)).where(
                        LoginFailure.scope == scope,
                        LoginFailure.key == key,
                        LoginFailure.at > since,
                    )
                )
            ).one()
            if count >= self.limits[scope] and oldest is not None:
                wait = max(wait, (oldest - since).total_seconds())
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
