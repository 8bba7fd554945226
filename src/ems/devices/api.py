"""Routes of the devices service (devices and tariffs): thin, each calling one use case of
`service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ems.common.credentials import internal_caller
from ems.common.deps import (
    Caller,
    ConnectionDep,
    SessionDep,
    UnitOfWorkDep,
    admin_dependency,
    token_caller,
)
from ems.common.openapi import errors
from ems.common.paging import Paging, Search
from ems.contracts import identity
from ems.devices import service
from ems.devices.schemas import (
    DeviceCreate,
    DevicePage,
    DeviceRead,
    DeviceUpdate,
    TariffCreate,
    TariffPage,
    TariffRead,
    TariffUpdate,
)

# The caller's role from their token: revocations stop a token whose role changed.
CallerDep = Annotated[Caller, Depends(token_caller)]
AdminDep = Annotated[Caller, Depends(admin_dependency(token_caller))]
Limit = Annotated[int, Query(ge=1, le=1000)]

router = APIRouter(prefix="/api/devices", tags=["devices"])
tariffs = APIRouter(prefix="/api/tariffs", tags=["tariffs"])
internal = APIRouter(prefix="/internal", include_in_schema=False)
# Services that keep a copy of the devices (and tariffs) and catch up from the snapshots.
DEVICE_READERS = ("monitoring", "support")


@router.get("", response_model=DevicePage)
async def read_devices(
    caller: CallerDep,
    conn: ConnectionDep,
    paging: Paging,
    q: Search = None,
    owner_id: uuid.UUID | None = None,
) -> DevicePage:
    """Devices, paged and searchable: an admin's all (or one owner's), a client's own."""
    rows, total = await service.list_devices(conn, caller, paging, q, owner_id)
    return DevicePage.of([dict(row) for row in rows], total, paging)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=DeviceRead, responses=errors(409)
)
async def create_device(body: DeviceCreate, admin: AdminDep, uow: UnitOfWorkDep) -> DeviceRead:
    """Create a device, assigned to a user or not (admin)."""
    return DeviceRead.model_validate(await service.create_device(uow, body.model_dump()))


@router.get("/user/{user_id}", response_model=DevicePage, responses=errors(404))
async def read_user_devices(
    user_id: uuid.UUID, admin: AdminDep, session: SessionDep, paging: Paging
) -> DevicePage:
    """One user's devices (admin)."""
    rows, total = await service.devices_of(session, user_id, paging)
    return DevicePage.of(rows, total, paging)


@router.get("/{device_id}", response_model=DeviceRead, responses=errors(404))
async def read_device(device_id: uuid.UUID, caller: CallerDep, conn: ConnectionDep) -> DeviceRead:
    """One device (admin: any; a client: only their own)."""
    return DeviceRead.model_validate(dict(await service.read_device(conn, caller, device_id)))


@router.put("/{device_id}", response_model=DeviceRead, responses=errors(404, 409))
async def replace_device(
    device_id: uuid.UUID, body: DeviceCreate, admin: AdminDep, uow: UnitOfWorkDep
) -> DeviceRead:
    """Replace a device's whole state; optional fields left out are cleared (admin)."""
    device = await service.change_device(uow, device_id, body.model_dump())
    return DeviceRead.model_validate(device)


@router.patch("/{device_id}", response_model=DeviceRead, responses=errors(404, 409))
async def update_device(
    device_id: uuid.UUID, body: DeviceUpdate, admin: AdminDep, uow: UnitOfWorkDep
) -> DeviceRead:
    """Change some fields; `owner_id` assigns, `owner_id: null` unassigns (admin)."""
    device = await service.change_device(uow, device_id, body.model_dump(exclude_unset=True))
    return DeviceRead.model_validate(device)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_device(device_id: uuid.UUID, admin: AdminDep, uow: UnitOfWorkDep) -> Response:
    """Delete a device (admin)."""
    await service.delete_device(uow, device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@tariffs.get("", response_model=TariffPage)
async def read_tariffs(
    caller: CallerDep, session: SessionDep, paging: Paging, q: Search = None
) -> TariffPage:
    """Tariffs by name, paged and searchable (anyone signed in: prices are not secret)."""
    rows, total = await service.list_tariffs(session, paging, q)
    return TariffPage.of(rows, total, paging)


@tariffs.post(
    "", status_code=status.HTTP_201_CREATED, response_model=TariffRead, responses=errors(409)
)
async def create_tariff(body: TariffCreate, admin: AdminDep, uow: UnitOfWorkDep) -> TariffRead:
    """Create a tariff: a price per kWh, and bands of the day that differ (admin)."""
    return TariffRead.model_validate(await service.create_tariff(uow, body.model_dump()))


@tariffs.get("/{tariff_id}", response_model=TariffRead, responses=errors(404))
async def read_tariff(tariff_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> TariffRead:
    """One tariff (anyone signed in)."""
    return TariffRead.model_validate(await service.read_tariff(session, tariff_id))


@tariffs.put("/{tariff_id}", response_model=TariffRead, responses=errors(404, 409))
async def replace_tariff(
    tariff_id: uuid.UUID, body: TariffCreate, admin: AdminDep, uow: UnitOfWorkDep
) -> TariffRead:
    """Replace a tariff's whole state; bands left out are removed (admin)."""
    tariff = await service.change_tariff(uow, tariff_id, body.model_dump())
    return TariffRead.model_validate(tariff)


@tariffs.patch("/{tariff_id}", response_model=TariffRead, responses=errors(404, 409))
async def update_tariff(
    tariff_id: uuid.UUID, body: TariffUpdate, admin: AdminDep, uow: UnitOfWorkDep
) -> TariffRead:
    """Change some fields; `bands` replaces every band at once (admin)."""
    tariff = await service.change_tariff(uow, tariff_id, body.model_dump(exclude_unset=True))
    return TariffRead.model_validate(tariff)


@tariffs.delete("/{tariff_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404, 409))
async def delete_tariff(tariff_id: uuid.UUID, admin: AdminDep, uow: UnitOfWorkDep) -> Response:
    """Delete a tariff; 409 `tariff_in_use` while a device has it (admin)."""
    await service.delete_tariff(uow, tariff_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal.get(
    "/devices",
    response_model=identity.DevicePage,
    dependencies=[internal_caller(*DEVICE_READERS)],
)
async def list_all_devices(
    session: SessionDep, after: uuid.UUID | None = None, limit: Limit = 500
) -> identity.DevicePage:
    """Every device, for services that keep a copy to catch up from at start."""
    return await service.devices_page(session, after, limit)


@internal.get(
    "/tariffs",
    response_model=identity.TariffPage,
    dependencies=[internal_caller(*DEVICE_READERS)],
)
async def list_all_tariffs(
    session: SessionDep, after: uuid.UUID | None = None, limit: Limit = 500
) -> identity.TariffPage:
    """Every tariff, for services that keep a copy to catch up from at start."""
    return await service.tariffs_page(session, after, limit)
