"""Routes of the consumption API: thin, each calling one function of `service`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from ems.common.openapi import errors
from ems.common.paging import Paging
from ems.common.security import CurrentUser
from ems.monitoring import service
from ems.monitoring.schemas import AlertPage, Bucket, DayConsumption, RangeConsumption


async def connection(request: Request) -> AsyncIterator[Any]:
    """A plain connection of the service's one pool for the length of the request."""
    async with request.app.state.runtime.db.driver() as conn:
        yield conn


Db = Annotated[Any, Depends(connection)]
DeviceId = Annotated[
    uuid.UUID | None, Query(description="one device; omitted: all devices the caller may see")
]

router = APIRouter(prefix="/api/consumption", tags=["consumption"])


@router.get("/day", response_model=DayConsumption, responses=errors(404))
async def read_day(
    caller: CurrentUser,
    db: Db,
    day: Annotated[date, Query(alias="date")],
    device_id: DeviceId = None,
) -> DayConsumption:
    """A day's 24 UTC hours of kWh (zero where there is no data) and the day's total."""
    return await service.day_consumption(db, caller, device_id, day)


@router.get("/range", response_model=RangeConsumption, responses=errors(404))
async def read_range(
    caller: CurrentUser,
    db: Db,
    start: date,
    end: Annotated[date, Query(description="inclusive")],
    bucket: Bucket = "hour",
    device_id: DeviceId = None,
) -> RangeConsumption:
    """kWh per hour or per UTC day from `start` to `end` (inclusive), zero-filled."""
    return await service.range_consumption(db, caller, device_id, start, end, bucket)


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **errors(404)},
)
async def export_csv(
    caller: CurrentUser,
    db: Db,
    start: date,
    end: Annotated[date, Query(description="inclusive")],
    bucket: Bucket = "hour",
    device_id: DeviceId = None,
) -> Response:
    """The same figures as `/range`, as a CSV download."""
    figures = await service.range_consumption(db, caller, device_id, start, end, bucket)
    name = f"consumption-{device_id or 'all'}-{start}-{end}.csv"
    return Response(
        service.consumption_csv(figures),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/alerts", response_model=AlertPage, responses=errors(404))
async def read_alerts(
    caller: CurrentUser,
    db: Db,
    paging: Paging,
    device_id: DeviceId = None,
) -> AlertPage:
    """Overconsumption alerts, newest first, paged."""
    return await service.alert_page(db, caller, device_id, paging.page, paging.size)
