"""Routes of the devices service: thin, each calling one function of `service`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from ems.common.credentials import internal_caller
from ems.common.db import Database
from ems.common.openapi import errors
from ems.common.outbox import OutboxRelay
from ems.common.paging import Paging
from ems.contracts.identity import DevicePage
from ems.devices import service
from ems.devices.deps import AdminDep, CallerDep, SessionDep
from ems.devices.models import Device
from ems.devices.schemas import DeviceChange, DeviceCreate, DeviceList, DeviceRead


class DevicesDeps:
    """What the routes need, taken from the running app."""

    def __init__(self, request: Request) -> None:
        self.db: Database = request.app.state.runtime.db
        self.relay: OutboxRelay = request.app.state.relay


Deps = Annotated[DevicesDeps, Depends()]

router = APIRouter(prefix="/api/devices", tags=["devices"])
internal = APIRouter(prefix="/internal", include_in_schema=False)
# Services that keep a copy of the devices and catch up from the snapshot.
DEVICE_READERS = ("monitoring", "support")


@router.get("", response_model=DeviceList)
async def read_devices(
    caller: CallerDep,
    session: SessionDep,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100)] = None,
    owner_id: uuid.UUID | None = None,
) -> DeviceList:
    """Devices, paged and searchable: an admin's all (or one owner's), a client's own."""
    rows, total = await service.list_devices(session, caller, paging.page, paging.size, q, owner_id)
    return _page(rows, total, paging.page, paging.size)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=DeviceRead, responses=errors(409)
)
async def create_device(body: DeviceCreate, admin: AdminDep, deps: Deps) -> DeviceRead:
    """Create a device, assigned to a user or not (admin)."""
    async with deps.db.transaction() as session:
        device = await service.create_device(session, body.model_dump())
        read = DeviceRead.model_validate(device)
    deps.relay.notify()
    return read


@router.get("/user/{user_id}", response_model=DeviceList, responses=errors(404))
async def read_user_devices(
    user_id: uuid.UUID, admin: AdminDep, session: SessionDep, paging: Paging
) -> DeviceList:
    """One user's devices (admin)."""
    rows, total = await service.devices_of(session, user_id, paging.page, paging.size)
    return _page(rows, total, paging.page, paging.size)


@router.get("/{device_id}", response_model=DeviceRead, responses=errors(404))
async def read_device(device_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> DeviceRead:
    """One device (admin: any; a client: only their own)."""
    return DeviceRead.model_validate(await service.read_device(session, caller, device_id))


@router.put("/{device_id}", response_model=DeviceRead, responses=errors(404, 409))
async def replace_device(
    device_id: uuid.UUID, body: DeviceCreate, admin: AdminDep, deps: Deps
) -> DeviceRead:
    """Replace a device's whole state; optional fields left out are cleared (admin)."""
    return await _change(deps, device_id, body.model_dump())


@router.patch("/{device_id}", response_model=DeviceRead, responses=errors(404, 409))
async def update_device(
    device_id: uuid.UUID, body: DeviceChange, admin: AdminDep, deps: Deps
) -> DeviceRead:
    """Change some fields; `owner_id` assigns, `owner_id: null` unassigns (admin)."""
    return await _change(deps, device_id, body.model_dump(exclude_unset=True))


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_device(device_id: uuid.UUID, admin: AdminDep, deps: Deps) -> Response:
    """Delete a device (admin)."""
    async with deps.db.transaction() as session:
        await service.delete_device(session, device_id)
    deps.relay.notify()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal.get(
    "/devices", response_model=DevicePage, dependencies=[internal_caller(*DEVICE_READERS)]
)
async def list_all_devices(
    deps: Deps,
    after: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> DevicePage:
    """Every device, for services that keep a copy to catch up from at start."""
    async with deps.db.sessions() as session:
        return await service.devices_page(session, after, limit)


async def _change(deps: DevicesDeps, device_id: uuid.UUID, changes: dict[str, Any]) -> DeviceRead:
    async with deps.db.transaction() as session:
        device = await service.change_device(session, device_id, changes)
        read = DeviceRead.model_validate(device)
    deps.relay.notify()
    return read


def _page(rows: list[Device], total: int, page: int, size: int) -> DeviceList:
    items = [DeviceRead.model_validate(d) for d in rows]
    return DeviceList(items=items, total=total, page=page, size=size)
