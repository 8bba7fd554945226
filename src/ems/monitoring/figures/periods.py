"""Local calendars over UTC hours: days, weeks (Monday) and months in a time zone.

Hours are stored as whole UTC hours; a stored hour belongs to the local day (week, month)
its start falls in. A local day is then the UTC hours starting from its midnight up to the
next one: 23, 24 or 25 of them across daylight-saving changes (in a zone whose offset is
not whole hours, the first hour starting after midnight, so every hour is in one day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Bucket = Literal["hour", "day", "week", "month"]
Period = Literal["day", "week", "month"]
HOUR = timedelta(hours=1)


def local_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant the local `day` begins, in the zone (a midnight that does not exist,
    skipped by a daylight-saving change, resolves to the first local time that does)."""
    naive = datetime.combine(day, time())
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def ceil_hour(moment: datetime) -> datetime:
    """The first whole UTC hour at or after `moment`."""
    utc = moment.astimezone(UTC)
    floor = utc.replace(minute=0, second=0, microsecond=0)
    return floor if floor == utc else floor + HOUR


def hour_span(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC hours of local days `first` to `last` (inclusive), as [start, end)."""
    return (
        ceil_hour(local_start(first, zone)),
        ceil_hour(local_start(last + timedelta(days=1), zone)),
    )


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    hours = []
    moment = start
    while moment < end:
        hours.append(moment)
        moment += HOUR
    return hours


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def bucket_key(bucket: Bucket, day: date) -> date:
    """The local date a day-or-longer bucket is named by (its first day)."""
    if bucket == "week":
        return monday(day)
    if bucket == "month":
        return month_start(day)
    return day


def bucket_keys(bucket: Bucket, first: date, last: date) -> list[date]:
    """Every day, week or month bucket from the one holding `first` to the one holding
    `last` (the first and last may hold days outside the range: those are not counted)."""
    keys = []
    key = bucket_key(bucket, first)
    while key <= last:
        keys.append(key)
        if bucket == "week":
            key += timedelta(days=7)
        elif bucket == "month":
            key = next_month(key)
        else:
            key += timedelta(days=1)
    return keys


@dataclass(frozen=True)
class Window:
    """A calendar period in a zone: local dates [first, end) and the UTC hours it holds up
    to `cut` (None: all of them)."""

    first: date
    end: date
    zone: ZoneInfo
    cut: datetime | None = None

    @property
    def start_utc(self) -> datetime:
        return ceil_hour(local_start(self.first, self.zone))

    @property
    def end_utc(self) -> datetime:
        full = ceil_hour(local_start(self.end, self.zone))
        return full if self.cut is None else min(full, ceil_hour(self.cut))

    def running_at(self, now: datetime) -> bool:
        return local_start(self.first, self.zone) <= now < local_start(self.end, self.zone)

    def elapsed(self, now: datetime) -> timedelta:
        """Local wall-clock time since the period began (a month so far is 'N days and
        some hours' whatever daylight saving did meanwhile)."""
        began = datetime.combine(self.first, time())
        return now.astimezone(self.zone).replace(tzinfo=None) - began

    def cut_after(self, elapsed: timedelta) -> Window:
        """The same period cut to `elapsed` local wall-clock time from its start."""
        wall = datetime.combine(self.first, time()) + elapsed
        moment = wall.replace(tzinfo=self.zone).astimezone(UTC)
        return Window(self.first, self.end, self.zone, moment)


def period_window(period: Period, day: date, zone: ZoneInfo) -> Window:
    """The day, week (Monday to Sunday) or month holding `day`."""
    if period == "day":
        return Window(day, day + timedelta(days=1), zone)
    if period == "week":
        first = monday(day)
        return Window(first, first + timedelta(days=7), zone)
    first = month_start(day)
    return Window(first, next_month(first), zone)


def previous_window(period: Period, window: Window) -> Window:
    if period == "day":
        return period_window(period, window.first - timedelta(days=1), window.zone)
    if period == "week":
        return period_window(period, window.first - timedelta(days=7), window.zone)
    return period_window(period, window.first - timedelta(days=1), window.zone)


def year_before_window(period: Period, window: Window) -> Window:
    """The same day (Feb 29: Feb 28), ISO week (week 53: week 52) or month a year
    earlier."""
    first = window.first
    if period == "week":
        year, week, _ = first.isocalendar()
        try:
            return period_window(period, date.fromisocalendar(year - 1, week, 1), window.zone)
        except ValueError:
            return period_window(period, date.fromisocalendar(year - 1, 52, 1), window.zone)
    try:
        earlier = first.replace(year=first.year - 1)
    except ValueError:
        earlier = first.replace(year=first.year - 1, day=28)
    return period_window(period, earlier, window.zone)
