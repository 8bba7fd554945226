"""Raw readings live in daily partitions made ahead of time and dropped after retention;
the hourly figures stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from ems.common.settings import to_libpq
from ems.monitoring.ingest.partitions import (
    existing_partitions,
    maintain_partitions,
    partition_name,
)
from ems.monitoring.settings import MonitoringSettings


async def test_partitions_cover_the_accepted_window_and_old_ones_are_dropped(
    monitoring_settings: MonitoringSettings,
) -> None:
    """If this fails, a valid reading finds no partition to go to (and is refused), or raw
    readings outlive their retention and the table grows for ever."""
    conn = await asyncpg.connect(to_libpq(monitoring_settings.dsn()))
    try:
        now = datetime.now(UTC)
        await maintain_partitions(conn, now, 7, timedelta(hours=1))
        days = set((await existing_partitions(conn)).values())
        for back in range(8):
            assert (now - timedelta(days=back)).date() in days
        assert (now + timedelta(days=1)).date() in days

        # Ten days later, with three days of retention: the old days go, the new ones come.
        old_day = now.replace(hour=12, minute=0, second=0, microsecond=0)
        await conn.execute(
            "INSERT INTO readings (device_id, ts, micro_kwh) VALUES (gen_random_uuid(), $1, 1)",
            old_day,
        )
        await conn.execute(
            "INSERT INTO hourly_consumption (device_id, hour, micro_kwh, readings) "
            "VALUES (gen_random_uuid(), $1, 1, 1)",
            old_day,
        )
        later = now + timedelta(days=10)
        created, dropped = await maintain_partitions(conn, later, 3, timedelta(hours=1))
        assert partition_name(old_day.date()) in dropped
        assert partition_name(later.date()) in created
        remaining = set((await existing_partitions(conn)).values())
        assert min(remaining) == (later - timedelta(days=3)).date()
        assert await conn.fetchval("SELECT count(*) FROM readings WHERE ts = $1", old_day) == 0
        hours = "SELECT count(*) FROM hourly_consumption WHERE hour = $1"
        assert await conn.fetchval(hours, old_day) == 1
        # Run again: nothing to do.
        assert await maintain_partitions(conn, later, 3, timedelta(hours=1)) == ([], [])
    finally:
        await conn.close()
