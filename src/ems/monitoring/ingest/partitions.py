"""Daily partitions of the raw readings, made ahead of time and dropped after retention.

A reading is accepted only when its timestamp lies inside the retention window (and not too
far ahead), so every accepted reading has a partition and a dropped partition never receives
a reading again: a repeat older than the window cannot sneak in and be counted twice.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

log = logging.getLogger(__name__)

# Serialises partition maintenance across replicas (arbitrary constant).
_MAINTENANCE_LOCK = 0x454D5350
_NAME = re.compile(r"^readings_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"readings_p{day:%Y%m%d}"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def maintain_partitions(
    conn: Any, now: datetime, retention_days: int, ahead: timedelta
) -> tuple[list[str], list[str]]:
    """Create the partitions the accepted window needs and drop those wholly before it.

    Returns (created, dropped) partition names."""
    first = (now - timedelta(days=retention_days)).date()
    # One spare day beyond the furthest accepted timestamp.
    last = (now + ahead).date() + timedelta(days=1)
    created: list[str] = []
    dropped: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MAINTENANCE_LOCK)
        existing = await existing_partitions(conn)
        day = first
        while day <= last:
            name = partition_name(day)
            if name not in existing:
                lower = _literal(day_start(day))
                upper = _literal(day_start(day + timedelta(days=1)))
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings "
                    f"FOR VALUES FROM ({lower}) TO ({upper})"
                )
                created.append(name)
            day += timedelta(days=1)
        for name, day in sorted(existing.items()):
            if day < first:
                await conn.execute(f"DROP TABLE IF EXISTS {name}")
                dropped.append(name)
    if created or dropped:
        log.info(
            "readings partitions",
            extra={"partitions_created": created, "partitions_dropped": dropped},
        )
    return created, dropped


async def existing_partitions(conn: Any) -> dict[str, date]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'readings'::regclass"
    )
    found: dict[str, date] = {}
    for row in rows:
        match = _NAME.match(row["relname"])
        if match:
            found[row["relname"]] = datetime.strptime(match.group(1), "%Y%m%d").date()
    return found


def _literal(moment: datetime) -> str:
    # DDL takes no parameters; the value is our own ISO timestamp, never user input.
    return f"'{moment.isoformat()}'"
