"""Login throttling that stops guessing without locking the owner out.

Three limits, each a GCRA (generic cell rate algorithm: one timestamp per key, the
theoretical arrival time `tat` of the next attempt) kept in authdb so that every auth replica
shares them, and each checked-and-counted in one atomic statement, so parallel guesses never
get past a limit:

- one address at one account: `login_max_failures_per_account_address` per window, then 429;
- one address at any account: `login_max_failures_per_address` per window, then 429;
- one account from anywhere: a burst, then one password check per
  `login_account_interval_seconds`; a login beyond it waits its turn instead of being
  refused (429 only past `login_max_delay_seconds`). Guesses at an account stay around one
  a second however many addresses send them, and the owner, from an address of their own,
  gets in within seconds.

Every attempt is counted before its password is checked; a right password gives back what
it took (and clears the account's queue).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import TextClause, text

from ems.auth.settings import AuthSettings
from ems.common.db import Database
from ems.common.errors import ApiError, too_many

# Counts one attempt when it fits: the row's `tat` moves on by one interval unless that
# would put it further ahead than the burst (plus the delay a caller may wait) allows.
_RESERVE = text(
    """
    INSERT INTO login_throttle AS t (scope, key, tat)
    VALUES (:scope, :key, clock_timestamp() + CAST(:interval AS interval))
    ON CONFLICT (scope, key) DO UPDATE
        SET tat = greatest(t.tat, clock_timestamp()) + CAST(:interval AS interval)
        WHERE greatest(t.tat, clock_timestamp()) + CAST(:interval AS interval)
            - clock_timestamp() <= CAST(:allowance AS interval)
    RETURNING extract(
        epoch FROM tat - clock_timestamp() - CAST(:tolerance AS interval)
    )::float8 AS delay
    """
)
_AHEAD = text(
    "SELECT extract(epoch FROM tat - clock_timestamp())::float8 FROM login_throttle"
    " WHERE scope = :scope AND key = :key"
)
_REFUND = text(
    "UPDATE login_throttle SET tat = tat - CAST(:interval AS interval)"
    " WHERE scope = :scope AND key = :key"
)
_CLEAR = text("DELETE FROM login_throttle WHERE scope = :scope AND key = :key")


@dataclass(frozen=True)
class Limit:
    scope: str
    interval: timedelta
    burst: int
    # How long an attempt may wait for its turn; 0: refused at once when over the limit.
    max_delay: timedelta = timedelta(0)

    @property
    def tolerance(self) -> timedelta:
        return self.interval * self.burst


@dataclass(frozen=True)
class Attempt:
    """What one login attempt holds of each limit (given back when it succeeds)."""

    account: str
    address: str
    # Seconds to wait before the password may be checked.
    delay: float


class LoginThrottle:
    def __init__(self, db: Database, settings: AuthSettings) -> None:
        self.db = db
        window = timedelta(seconds=settings.login_window_seconds)
        self.pair = Limit(
            "pair",
            window / settings.login_max_failures_per_account_address,
            settings.login_max_failures_per_account_address,
        )
        self.address = Limit(
            "address",
            window / settings.login_max_failures_per_address,
            settings.login_max_failures_per_address,
        )
        self.account = Limit(
            "account",
            timedelta(seconds=settings.login_account_interval_seconds),
            settings.login_account_burst,
            timedelta(seconds=settings.login_max_delay_seconds),
        )

    async def attempt(self, account: str, address: str) -> Attempt | ApiError:
        """Count an attempt at `account` from `address`, or refuse it (429)."""
        held: list[tuple[Limit, str]] = []
        for limit, key in (
            (self.address, address),
            (self.pair, f"{account}\n{address}"),
            (self.account, account),
        ):
            outcome = await self._reserve(limit, key)
            if isinstance(outcome, ApiError):
                # Refused before any password was checked: nothing counts against the caller.
                for taken, taken_key in held:
                    await self._run(_REFUND, taken, taken_key)
                return outcome
            held.append((limit, key))
            delay = outcome
        return Attempt(account, address, max(0.0, delay))

    async def succeeded(self, attempt: Attempt) -> None:
        """A right password: its address and account start afresh."""
        await self._run(_REFUND, self.address, attempt.address)
        await self._run(_CLEAR, self.pair, f"{attempt.account}\n{attempt.address}")
        await self._run(_CLEAR, self.account, attempt.account)

    async def _reserve(self, limit: Limit, key: str) -> float | ApiError:
        params = {
            "scope": limit.scope,
            "key": key,
            "interval": limit.interval,
            "tolerance": limit.tolerance,
            "allowance": limit.tolerance + limit.max_delay,
        }
        async with self.db.transaction() as session:
            delay = (await session.execute(_RESERVE, params)).scalar_one_or_none()
            if delay is not None:
                return float(delay)
            ahead = (await session.execute(_AHEAD, params)).scalar_one_or_none() or 0.0
        # The attempt fits once `tat` has come back to within the allowance.
        allowance = limit.tolerance + limit.max_delay
        wait = ahead + (limit.interval - allowance).total_seconds()
        return too_many("too many login attempts; try again later", max(1, math.ceil(wait)))

    async def _run(self, statement: TextClause, limit: Limit, key: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                statement, {"scope": limit.scope, "key": key, "interval": limit.interval}
            )
