"""Routes of the consumption API: thin, each calling one function of `figures` (kWh and
cost in the caller's zone); alerts, meters and the overview are in api_alerts.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from ems.common.openapi import errors
from ems.common.security import CurrentUser
from ems.common.timezones import TimeZone
from ems.monitoring import figures
from ems.monitoring.schemas import (
    Bucket,
    ComparePeriod,
    Comparison,
    DayConsumption,
    MonthToDate,
    RangeConsumption,
)


async def connection(request: Request) -> AsyncIterator[Any]:
    """A plain connection of the service's one pool for the length of the request."""
    async with request.app.state.runtime.db.driver() as conn:
        yield conn


Db = Annotated[Any, Depends(connection)]
DeviceId = Annotated[
    uuid.UUID | None, Query(description="one device; omitted: all devices the caller may see")
]
Tz = Annotated[
    TimeZone | None,
    Query(description="IANA zone the figures are local to; default: the caller's profile zone"),
]

# Dates a calendar in any zone can hold with a year on either side (compare looks a year
# back, a range one day on): outside, 422 rather than an overflow.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
Day = Annotated[date, Query(alias="date", ge=FIRST_DAY, le=LAST_DAY)]
Start = Annotated[date, Query(ge=FIRST_DAY, le=LAST_DAY)]
End = Annotated[date, Query(ge=FIRST_DAY, le=LAST_DAY, description="inclusive")]

router = APIRouter(prefix="/api/consumption", tags=["consumption"])


@router.get("/day", response_model=DayConsumption, responses=errors(404))
async def read_day(
    caller: CurrentUser,
    db: Db,
    day: Day,
    device_id: DeviceId = None,
    tz: Tz = None,
) -> DayConsumption:
    """A local day's hours (23, 24 or 25) of kWh and cost, zero-filled, and its totals."""
    return await figures.day_consumption(db, caller, device_id, day, tz)


@router.get("/range", response_model=RangeConsumption, responses=errors(404))
async def read_range(
    caller: CurrentUser,
    db: Db,
    start: Start,
    end: End,
    bucket: Bucket = "hour",
    device_id: DeviceId = None,
    tz: Tz = None,
) -> RangeConsumption:
    """kWh and cost per local hour, day, week (from Monday) or month from `start` to `end`
    (inclusive), zero-filled; at most 93 days of hours, else 3 years (422 beyond)."""
    return await figures.range_consumption(db, caller, device_id, start, end, bucket, tz)


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **errors(404)},
)
async def export_csv(
    caller: CurrentUser,
    db: Db,
    start: Start,
    end: End,
    bucket: Bucket = "hour",
    device_id: DeviceId = None,
    tz: Tz = None,
) -> Response:
    """The same figures as `/range`, as a CSV download (`start,kwh,cost,currency`)."""
    found = await figures.range_consumption(db, caller, device_id, start, end, bucket, tz)
    name = f"consumption-{device_id or 'all'}-{start}-{end}.csv"
    return Response(
        figures.consumption_csv(found),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/compare", response_model=Comparison, responses=errors(404))
async def read_comparison(
    caller: CurrentUser,
    db: Db,
    period: ComparePeriod,
    day: Day,
    device_id: DeviceId = None,
    tz: Tz = None,
) -> Comparison:
    """The day, week or month holding `date` against the one before and the same one a
    year earlier (% change); a running period against the same elapsed time of both."""
    return await figures.comparison(db, caller, device_id, period, day, tz)


@router.get("/month-to-date", response_model=MonthToDate, responses=errors(404))
async def read_month_to_date(
    caller: CurrentUser, db: Db, device_id: DeviceId = None, tz: Tz = None
) -> MonthToDate:
    """The local month so far (kWh, cost) and its projection to the month's end."""
    return await figures.month_to_date(db, caller, device_id, tz)
