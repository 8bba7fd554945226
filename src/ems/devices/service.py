"""What the devices service does: each use case opens its own unit of work.

Every change of a device or tariff is written with its event (`device.*`, `tariff.*`: the
whole state and a revision) in one transaction; the outbox relay publishes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.deps import Caller
from ems.common.errors import ApiError, conflict, not_found, refuse_nulls
from ems.common.outbox import add_event
from ems.common.paging import PageParams, contains, like_pattern, page_of
from ems.common.unit_of_work import UnitOfWork
from ems.contracts.events import (
    DeviceCreated,
    DeviceDeleted,
    DeviceUpdated,
    TariffCreated,
    TariffDeleted,
    TariffUpdated,
)
from ems.contracts.identity import DevicePage, TariffPage
from ems.devices.models import Device, Owner, Tariff, outbox

# The unique keys a write can run into: the field, and what the client is told (409).
_TAKEN = {
    "uq_devices_meter_id": ("meter_id", "meter id is already taken"),
    "uq_tariffs_name": ("name", "a tariff of this name exists"),
}


# --- devices -------------------------------------------------------------------------------


# Plain SQL for the hot reads: a device's columns as the API shows them (DeviceRead).
_SHOWN = """id, name, description, address, max_hourly_kwh, owner_id, tariff_id, meter_id,
       silence_minutes, status, created_at, updated_at"""
# A list's conditions, each a constant: a query holds only those it needs, so that the
# planner sees `owner_id = $1` (its index) rather than `$1 IS NULL OR ...`.
_OF_OWNER = "owner_id = $1"
_MATCHING = """(name ILIKE $2 ESCAPE '\\' OR description ILIKE $2 ESCAPE '\\'
  OR address ILIKE $2 ESCAPE '\\' OR meter_id ILIKE $2 ESCAPE '\\')"""


_ORDER = "ORDER BY name, id OFFSET $3 LIMIT $4"


def _listing(owner: bool, search: bool) -> tuple[str, str]:
    """The page query ($3 offset, $4 limit; the total in each row) and the count query.
    $1 the owner and $2 the pattern are always passed (NULL when not used)."""
    where = " AND ".join(
        ["$1::uuid IS NULL" if not owner else _OF_OWNER]
        + ([_MATCHING] if search else ["$2::text IS NULL"])
    )
    # Constant fragments only: nothing of the request is in the text.
    page = f"SELECT {_SHOWN}, count(*) OVER () AS total FROM devices WHERE {where} {_ORDER}"  # noqa: S608
    return page, f"SELECT count(*) FROM devices WHERE {where}"  # noqa: S608


_LISTS = {
    (owner, search): _listing(owner, search) for owner in (True, False) for search in (True, False)
}

# $2: the owner the device must have, or NULL (admins).
_ONE = f"SELECT {_SHOWN} FROM devices WHERE id = $1 AND ($2::uuid IS NULL OR owner_id = $2)"  # noqa: S608


async def list_devices(
    conn: Any,
    caller: Caller,
    paging: PageParams,
    q: str | None = None,
    owner_id: uuid.UUID | None = None,
) -> tuple[list[Mapping[str, Any]], int]:
    """A page of devices: an admin's choice of all of them, a client's own only. One
    statement (the total comes with the rows); a second only for a page past the end."""
    owner = owner_id if caller.is_admin else caller.user_id
    pattern = like_pattern(q) if q else None
    page, count = _LISTS[owner is not None, pattern is not None]
    rows = await conn.fetch(page, owner, pattern, paging.offset, paging.size)
    if rows:
        return rows, rows[0]["total"]
    return [], await conn.fetchval(count, owner, pattern) if paging.offset else 0


async def devices_of(
    session: AsyncSession, user_id: uuid.UUID, paging: PageParams
) -> tuple[list[Device], int]:
    """A user's devices (admin); 404 for a user this service does not know."""
    if await _live_owner(session, user_id, lock=False) is None:
        raise not_found("user")
    query = select(Device).where(Device.owner_id == user_id)
    return await page_of(session, query, paging, Device.name, Device.id)


async def read_device(conn: Any, caller: Caller, device_id: uuid.UUID) -> Mapping[str, Any]:
    """A device the caller may see; another client's device is 'not found', never 403.
    One statement: the ownership check is part of it."""
    owner = None if caller.is_admin else caller.user_id
    row: Mapping[str, Any] | None = await conn.fetchrow(_ONE, device_id, owner)
    if row is None:
        raise not_found("device")
    return row


async def create_device(uow: UnitOfWork, fields: Mapping[str, Any]) -> Device:
    async with uow.transaction() as session:
        await _require_references(session, fields, None)
        device = await _insert(session, Device(**fields, revision=1), DeviceCreated)
    return device


async def change_device(
    uow: UnitOfWork, device_id: uuid.UUID, changes: Mapping[str, Any]
) -> Device:
    """Apply `changes` (a PUT's whole state or a PATCH's fields), with `device.updated`."""
    refuse_nulls(changes, "name", "max_hourly_kwh", "status")
    async with uow.transaction() as session:
        device = await _locked(session, Device, device_id)
        await _require_references(session, changes, device)
        await _update(session, device, changes, DeviceUpdated)
    return device


async def delete_device(uow: UnitOfWork, device_id: uuid.UUID) -> None:
    async with uow.transaction() as session:
        await remove(session, await _locked(session, Device, device_id))


async def remove(session: AsyncSession, device: Device) -> None:
    """Delete one device with its `device.deleted` (monitoring drops its data from it)."""
    await session.delete(device)
    await add_event(
        session,
        outbox,
        DeviceDeleted(id=device.id, owner_id=device.owner_id, revision=device.revision + 1),
    )


async def devices_page(session: AsyncSession, after: uuid.UUID | None, limit: int) -> DevicePage:
    """Every device in id order, as `device.updated` bodies (for copies to catch up from)."""
    rows = await _after(session, Device, after, limit)
    return DevicePage(
        items=[DeviceUpdated.model_validate(d, from_attributes=True) for d in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


async def _require_references(
    session: AsyncSession, fields: Mapping[str, Any], device: Device | None
) -> None:
    """422 for an owner or tariff that does not exist (only checked when it changes).

    Both are locked FOR SHARE: a `user.deleted` being applied, or a tariff being deleted,
    waits for this transaction (and then sees the device), or has committed and is refused
    here.
    """
    owner_id = fields.get("owner_id")
    if owner_id not in (None, device and device.owner_id) and not await _live_owner(
        session, owner_id, lock=True
    ):
        raise ApiError(
            422, "unknown_owner", "no such user to own the device", {"field": "owner_id"}
        )
    tariff_id = fields.get("tariff_id")
    if tariff_id not in (None, device and device.tariff_id) and not await session.scalar(
        select(Tariff.id).where(Tariff.id == tariff_id).with_for_update(read=True)
    ):
        raise ApiError(422, "unknown_tariff", "no such tariff", {"field": "tariff_id"})


async def _live_owner(session: AsyncSession, user_id: uuid.UUID, *, lock: bool) -> Owner | None:
    query = select(Owner).where(Owner.id == user_id, Owner.deleted.is_(False))
    if lock:
        query = query.with_for_update(read=True)
    owner: Owner | None = await session.scalar(query)
    return owner


# --- tariffs -------------------------------------------------------------------------------


async def list_tariffs(
    session: AsyncSession, paging: PageParams, q: str | None = None
) -> tuple[list[Tariff], int]:
    """A page of tariffs by name, optionally matching `q` in the name or currency."""
    query = select(Tariff)
    if q:
        query = query.where(contains(q, Tariff.name, Tariff.currency))
    return await page_of(session, query, paging, Tariff.name, Tariff.id)


async def read_tariff(session: AsyncSession, tariff_id: uuid.UUID) -> Tariff:
    tariff = await session.get(Tariff, tariff_id)
    if tariff is None:
        raise not_found("tariff")
    return tariff


async def create_tariff(uow: UnitOfWork, fields: Mapping[str, Any]) -> Tariff:
    async with uow.transaction() as session:
        tariff = await _insert(session, Tariff(**fields, revision=1), TariffCreated)
    return tariff


async def change_tariff(
    uow: UnitOfWork, tariff_id: uuid.UUID, changes: Mapping[str, Any]
) -> Tariff:
    """Apply `changes` (a PUT's whole state or a PATCH's fields), with `tariff.updated`."""
    refuse_nulls(changes, "name", "currency", "price_per_kwh", "bands")
    async with uow.transaction() as session:
        tariff = await _locked(session, Tariff, tariff_id)
        await _update(session, tariff, changes, TariffUpdated)
    return tariff


async def delete_tariff(uow: UnitOfWork, tariff_id: uuid.UUID) -> None:
    """Delete a tariff no device uses; 409 `tariff_in_use` while one does."""
    async with uow.transaction() as session:
        tariff = await _locked(session, Tariff, tariff_id)
        # Devices being given this tariff hold it FOR SHARE: counted once they commit.
        in_use = await session.scalar(
            select(func.count()).select_from(Device).where(Device.tariff_id == tariff_id)
        )
        if in_use:
            raise ApiError(
                409,
                "tariff_in_use",
                f"the tariff is used by {in_use} device{'s' if in_use != 1 else ''};"
                " give them another tariff first",
                {"devices": in_use},
            )
        await session.delete(tariff)
        await add_event(session, outbox, TariffDeleted(id=tariff_id, revision=tariff.revision + 1))


async def tariffs_page(session: AsyncSession, after: uuid.UUID | None, limit: int) -> TariffPage:
    """Every tariff in id order, as `tariff.updated` bodies (for copies to catch up from)."""
    rows = await _after(session, Tariff, after, limit)
    return TariffPage(
        items=[TariffUpdated.model_validate(t, from_attributes=True) for t in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


# --- both ----------------------------------------------------------------------------------


Row = TypeVar("Row", Device, Tariff)


async def _locked(session: AsyncSession, table: type[Row], row_id: uuid.UUID) -> Row:
    """The row, locked for this transaction's change; 404 when there is none."""
    row = await session.get(table, row_id, with_for_update=True)
    if row is None:
        raise not_found(table.__name__.lower())
    return row


async def _insert(
    session: AsyncSession, row: Row, event: type[DeviceCreated] | type[TariffCreated]
) -> Row:
    """Write a new row with its `*.created` event."""
    session.add(row)
    await _write(session, row)
    await add_event(session, outbox, event.model_validate(row, from_attributes=True))
    return row


async def _update(
    session: AsyncSession,
    row: Device | Tariff,
    changes: Mapping[str, Any],
    event: type[DeviceUpdated] | type[TariffUpdated],
) -> None:
    """Write what changed, with a new revision and its `*.updated` event; nothing changed:
    no revision, no event."""
    if all(getattr(row, key) == value for key, value in changes.items()):
        return
    for key, value in changes.items():
        setattr(row, key, value)
    row.revision += 1
    await _write(session, row)
    await add_event(session, outbox, event.model_validate(row, from_attributes=True))


async def _write(session: AsyncSession, row: Device | Tariff) -> None:
    """Flush and reload the row (its times come from the database); 409 on a taken key."""
    try:
        await session.flush()
    except IntegrityError as error:
        for constraint, (field, message) in _TAKEN.items():
            if constraint in str(error.orig):
                raise conflict(message, {"field": field}) from None
        raise
    await session.refresh(row)


async def _after(
    session: AsyncSession, table: type[Device] | type[Tariff], after: uuid.UUID | None, limit: int
) -> list[Any]:
    query = select(table).order_by(table.id).limit(limit)
    if after is not None:
        query = query.where(table.id > after)
    return list(await session.scalars(query))
