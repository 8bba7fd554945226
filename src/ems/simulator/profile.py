"""What a household meter measures: a daily shape (low at night, a morning and an evening
peak, weekends later and fuller at midday), scaled per device, with noise.

Values are deterministic in (device, timestamp): the same reading played twice (a backfill
run again, a duplicate) carries the same value, as a real meter's repeat would.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import datetime, timedelta

# (centre hour, width in hours, kW) of the bumps on top of the base load.
_WEEKDAY = ((7.3, 1.0, 0.55), (13.0, 2.0, 0.12), (19.5, 1.8, 1.10))
_WEEKEND = ((9.5, 1.5, 0.50), (13.0, 2.5, 0.35), (19.5, 2.0, 1.20))
_BASE_KW = 0.18


def _unit(*parts: bytes) -> float:
    """A number in [0, 1) that depends only on `parts`."""
    digest = hashlib.blake2b(b"|".join(parts), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def device_scale(device_id: uuid.UUID) -> float:
    """A household's size: between 0.6 and 1.8 times the average, fixed per device."""
    return 0.6 + 1.2 * _unit(device_id.bytes, b"scale")


def average_kw(moment: datetime) -> float:
    """A typical household's mean power at `moment` (hours read in UTC)."""
    hour = moment.hour + moment.minute / 60 + moment.second / 3600
    bumps = _WEEKEND if moment.weekday() >= 5 else _WEEKDAY
    kw = _BASE_KW
    for centre, width, height in bumps:
        # Distance on the 24-hour clock, so a bump near midnight wraps around.
        distance = min(abs(hour - centre), 24 - abs(hour - centre))
        kw += height * math.exp(-0.5 * (distance / width) ** 2)
    return kw


def reading_kwh(
    device_id: uuid.UUID, end: datetime, interval: timedelta, scale: float | None = None
) -> float:
    """kWh the device used in the interval ending at `end`, to 0.1 Wh."""
    middle = end - interval / 2
    hours = interval.total_seconds() / 3600
    # Noise between -25% and +25%, the sum of two draws (more often small than large).
    key = int(end.timestamp()).to_bytes(8, "big", signed=True)
    noise = 0.75 + 0.25 * (_unit(device_id.bytes, key, b"a") + _unit(device_id.bytes, key, b"b"))
    factor = device_scale(device_id) if scale is None else scale
    return round(average_kw(middle) * hours * factor * noise, 4)
