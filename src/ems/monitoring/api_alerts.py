"""Routes of alerts (read state, acknowledgement), meters and the admins' overview."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from ems.common.openapi import errors
from ems.common.paging import Paging
from ems.common.security import AdminUser, CurrentUser
from ems.monitoring import alert_state, fleet
from ems.monitoring.api import Db, DeviceId, Tz
from ems.monitoring.figures import viewer
from ems.monitoring.schemas import (
    AlertPage,
    AlertRead,
    MarkedRead,
    MeterPage,
    Overview,
    UnreadCount,
)

router = APIRouter(prefix="/api/consumption", tags=["consumption"])


def _pushed(request: Request) -> None:
    """Pushes were added to the outbox: relay them now rather than at the next poll."""
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()


@router.get("/alerts", response_model=AlertPage, responses=errors(404))
async def read_alerts(
    caller: CurrentUser,
    db: Db,
    paging: Paging,
    device_id: DeviceId = None,
    unread: Annotated[bool | None, Query(description="true: only unread; false: only read")] = None,
    kind: Literal["hourly", "reading", "silent"] | None = None,
) -> AlertPage:
    """The caller's alerts, newest first, paged, each with its read state (the caller's)
    and its text in the caller's zone."""
    return await alert_state.alert_page(
        db, caller, device_id, unread, kind, paging.page, paging.size
    )


@router.get("/alerts/unread-count", response_model=UnreadCount)
async def read_unread_count(caller: CurrentUser, db: Db) -> UnreadCount:
    """How many of the caller's alerts they have not read (the same in every tab)."""
    return UnreadCount(count=await alert_state.unread_count(db, caller))


@router.post("/alerts/read-all", response_model=MarkedRead)
async def mark_all_read(caller: CurrentUser, db: Db, request: Request) -> MarkedRead:
    """Every alert of the caller read; each of their sockets hears `alerts.read`."""
    marked = await alert_state.mark_all_read(db, caller)
    _pushed(request)
    return MarkedRead(marked=marked)


@router.post("/alerts/{alert_id}/read", status_code=204, responses=errors(404))
async def mark_read(alert_id: uuid.UUID, caller: CurrentUser, db: Db, request: Request) -> Response:
    """One alert read by the caller; each of their sockets hears `alerts.read`."""
    await alert_state.mark_read(db, caller, alert_id)
    _pushed(request)
    return Response(status_code=204)


@router.post("/alerts/{alert_id}/ack", response_model=AlertRead, responses=errors(403, 404))
async def acknowledge(alert_id: uuid.UUID, caller: AdminUser, db: Db) -> AlertRead:
    """An admin takes the alert on (the first acknowledgement stays)."""
    return await alert_state.acknowledge(db, caller, alert_id)


@router.get("/meters", response_model=MeterPage)
async def read_meters(
    caller: CurrentUser,
    db: Db,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100, description="name or meter id")] = None,
) -> MeterPage:
    """The caller's meters (an admin's: every one) with when each last sent and whether
    it is silent."""
    return await fleet.meter_page(db, caller, q, paging.page, paging.size)


@router.get("/overview", response_model=Overview, responses=errors(403))
async def read_overview(
    caller: AdminUser,
    db: Db,
    tz: Tz = None,
) -> Overview:
    """The fleet today (the caller's local day): kWh and cost, top consumers, devices over
    their limit this hour, silent meters, readings per second now, alerts today."""
    return await fleet.overview(db, (await viewer(db, caller, tz)).zone)
