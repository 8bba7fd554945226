"""Monitoring's copies of users (role and time zone) and tariffs (prices and bands), from
`user.*` and `tariff.*` events and the owners' snapshots, revision-guarded like devices:
a repeat or a stale event changes nothing; a deleted one stays as a tombstone."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.timezones import DEFAULT_TIME_ZONE, known_time_zones
from ems.contracts.events import (
    TariffCreated,
    TariffDeleted,
    TariffUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from ems.monitoring.ingest.store import driver_connection

_UPSERT_USER = """
INSERT INTO users (id, role, time_zone, revision, deleted, updated_at)
VALUES ($1, $2, $3, $4, false, now())
ON CONFLICT (id) DO UPDATE
    SET role = EXCLUDED.role, time_zone = EXCLUDED.time_zone, revision = EXCLUDED.revision,
        deleted = false, updated_at = now()
    WHERE users.revision < EXCLUDED.revision AND NOT users.deleted
"""
_TOMBSTONE_USER = """
INSERT INTO users (id, role, time_zone, revision, deleted, updated_at)
VALUES ($1, 'CLIENT', 'UTC', $2, true, now())
ON CONFLICT (id) DO UPDATE SET deleted = true, revision = EXCLUDED.revision, updated_at = now()
    WHERE users.revision <= EXCLUDED.revision AND NOT users.deleted
"""
_UPSERT_TARIFF = """
INSERT INTO tariffs (id, name, currency, price_per_kwh, revision, deleted, updated_at)
VALUES ($1, $2, $3, $4::text::numeric, $5, false, now())
ON CONFLICT (id) DO UPDATE
    SET name = EXCLUDED.name, currency = EXCLUDED.currency,
        price_per_kwh = EXCLUDED.price_per_kwh, revision = EXCLUDED.revision, updated_at = now()
    WHERE tariffs.revision < EXCLUDED.revision AND NOT tariffs.deleted
RETURNING id
"""
_TOMBSTONE_TARIFF = """
INSERT INTO tariffs (id, name, currency, price_per_kwh, revision, deleted, updated_at)
VALUES ($1, '', '', 0, $2, true, now())
ON CONFLICT (id) DO UPDATE SET deleted = true, revision = EXCLUDED.revision, updated_at = now()
    WHERE tariffs.revision <= EXCLUDED.revision AND NOT tariffs.deleted
RETURNING id
"""


async def _zone(session: AsyncSession, name: str) -> str:
    """The user's zone if both this process and PostgreSQL (which prices hours in it) know
    it, else UTC: their zone databases may be of different ages (a zone named since)."""
    if name not in known_time_zones():
        return DEFAULT_TIME_ZONE
    try:
        async with session.begin_nested():
            await session.execute(text("SELECT now() AT TIME ZONE :zone"), {"zone": name})
    except DBAPIError:
        return DEFAULT_TIME_ZONE
    return name


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


async def handle_user_state(session: AsyncSession, event: UserCreated | UserUpdated) -> None:
    """A user's newer role and zone (a `user.updated` may arrive before its `created`)."""
    zone = await _zone(session, event.time_zone)
    conn = await driver_connection(session)
    await conn.execute(_UPSERT_USER, event.id, event.role, zone, event.revision)


async def tombstone_user(session: AsyncSession, event: UserDeleted) -> None:
    conn = await driver_connection(session)
    await conn.execute(_TOMBSTONE_USER, event.id, event.revision)


async def handle_tariff_state(session: AsyncSession, event: TariffCreated | TariffUpdated) -> None:
    """A tariff's newer state, its bands replaced as a whole. Prices go through their
    decimal text (`repr` of the float): 0.1 stays 0.1, not 0.1000000000000000055."""
    conn = await driver_connection(session)
    applied = await conn.fetchval(
        _UPSERT_TARIFF,
        event.id,
        event.name,
        event.currency,
        repr(event.price_per_kwh),
        event.revision,
    )
    if applied is None:
        return
    await conn.execute("DELETE FROM tariff_bands WHERE tariff_id = $1", event.id)
    await conn.executemany(
        "INSERT INTO tariff_bands (tariff_id, position, start_minute, end_minute, price_per_kwh)"
        " VALUES ($1, $2, $3, $4, $5::text::numeric)",
        [
            (event.id, i, _minutes(band.start), _minutes(band.end), repr(band.price_per_kwh))
            for i, band in enumerate(event.bands)
        ],
    )


async def handle_tariff_deleted(session: AsyncSession, event: TariffDeleted) -> None:
    conn = await driver_connection(session)
    if await conn.fetchval(_TOMBSTONE_TARIFF, event.id, event.revision) is not None:
        await conn.execute("DELETE FROM tariff_bands WHERE tariff_id = $1", event.id)
