"""Routes of the consumption API, thin: figures (kWh and cost in the caller's zone) from
`figures.consumption`, meters and the overview from `figures.fleet`, alerts' read state
and acknowledgement from `service`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from ems.common.deps import ConnectionDep, provided
from ems.common.openapi import errors
from ems.common.outbox import OutboxRelay
from ems.common.paging import Paging
from ems.common.security import AdminUser, CurrentUser
from ems.common.timezones import TimeZone
from ems.monitoring import service
from ems.monitoring.figures import consumption as figures
from ems.monitoring.figures import fleet
from ems.monitoring.schemas import (
    AlertPage,
    AlertRead,
    Bucket,
    ComparePeriod,
    Comparison,
    DayConsumption,
    MarkedRead,
    MeterPage,
    MonthToDate,
    Overview,
    RangeConsumption,
    UnreadCount,
)

# The outbox relay, to hand pushes to at once rather than at its next poll.
Relay = Annotated[OutboxRelay, Depends(provided(OutboxRelay))]
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
    db: ConnectionDep,
    day: Day,
    device_id: DeviceId = None,
    tz: Tz = None,
) -> DayConsumption:
    """A local day's hours (23, 24 or 25) of kWh and cost, zero-filled, and its totals."""
    return await figures.day_consumption(db, caller, device_id, day, tz)


@router.get("/range", response_model=RangeConsumption, responses=errors(404))
async def read_range(
    caller: CurrentUser,
    db: ConnectionDep,
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
    db: ConnectionDep,
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
    db: ConnectionDep,
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
    caller: CurrentUser, db: ConnectionDep, device_id: DeviceId = None, tz: Tz = None
) -> MonthToDate:
    """The local month so far (kWh, cost) and its projection to the month's end."""
    return await figures.month_to_date(db, caller, device_id, tz)


@router.get("/alerts", response_model=AlertPage, responses=errors(404))
async def read_alerts(
    caller: CurrentUser,
    db: ConnectionDep,
    paging: Paging,
    device_id: DeviceId = None,
    unread: Annotated[bool | None, Query(description="true: only unread; false: only read")] = None,
    kind: Literal["hourly", "reading", "silent"] | None = None,
) -> AlertPage:
    """The caller's alerts, newest first, paged, each with its read state (the caller's)
    and its text in the caller's zone."""
    return await service.alert_page(db, caller, device_id, unread, kind, paging.page, paging.size)


@router.get("/alerts/unread-count", response_model=UnreadCount)
async def read_unread_count(caller: CurrentUser, db: ConnectionDep) -> UnreadCount:
    """How many of the caller's alerts they have not read (the same in every tab)."""
    return UnreadCount(count=await service.unread_count(db, caller))


@router.post("/alerts/read-all", response_model=MarkedRead)
async def mark_all_read(caller: CurrentUser, db: ConnectionDep, relay: Relay) -> MarkedRead:
    """Every alert of the caller read; each of their sockets hears `alerts.read`."""
    marked = await service.mark_all_read(db, caller)
    relay.notify()
    return MarkedRead(marked=marked)


@router.post("/alerts/{alert_id}/read", status_code=204, responses=errors(404))
async def mark_read(
    alert_id: uuid.UUID, caller: CurrentUser, db: ConnectionDep, relay: Relay
) -> Response:
    """One alert read by the caller; each of their sockets hears `alerts.read`."""
    await service.mark_read(db, caller, alert_id)
    relay.notify()
    return Response(status_code=204)


@router.post("/alerts/{alert_id}/ack", response_model=AlertRead, responses=errors(403, 404))
async def acknowledge(alert_id: uuid.UUID, caller: AdminUser, db: ConnectionDep) -> AlertRead:
    """An admin takes the alert on (the first acknowledgement stays)."""
    return await service.acknowledge(db, caller, alert_id)


@router.get("/meters", response_model=MeterPage)
async def read_meters(
    caller: CurrentUser,
    db: ConnectionDep,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100, description="name or meter id")] = None,
) -> MeterPage:
    """The caller's meters (an admin's: every one) with when each last sent and whether
    it is silent."""
    return await fleet.meter_page(db, caller, q, paging.page, paging.size)


@router.get("/overview", response_model=Overview, responses=errors(403))
async def read_overview(
    caller: AdminUser,
    db: ConnectionDep,
    tz: Tz = None,
) -> Overview:
    """The fleet today (the caller's local day): kWh and cost, top consumers, devices over
    their limit this hour, silent meters, readings per second now, alerts today."""
    return await fleet.overview(db, (await figures.viewer(db, caller, tz)).zone)
