"""What the devices service does, as plain async functions over a session.

Every change of a device is written with its event (`device.created/updated/deleted`, the
whole state and a revision) in one transaction; the outbox relay publishes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.errors import ApiError, not_found
from ems.common.outbox import add_event
from ems.contracts.events import DeviceCreated, DeviceDeleted, DeviceUpdated
from ems.contracts.identity import DevicePage
from ems.devices.models import Device, Owner, outbox

# Fields a PATCH may not set to null.
_REQUIRED = ("name", "max_hourly_kwh", "status")


@dataclass(frozen=True)
class Caller:
    """Who is asking, with the role the synced copy holds for them now."""

    user_id: uuid.UUID
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


async def list_devices(
    session: AsyncSession,
    caller: Caller,
    page: int,
    size: int,
    q: str | None = None,
    owner_id: uuid.UUID | None = None,
) -> tuple[list[Device], int]:
    """A page of devices: an admin's choice of all of them, a client's own only."""
    query = select(Device)
    if not caller.is_admin:
        query = query.where(Device.owner_id == caller.user_id)
    elif owner_id is not None:
        query = query.where(Device.owner_id == owner_id)
    if q:
        pattern = f"%{_escape_like(q.strip())}%"
        query = query.where(
            or_(
                Device.name.ilike(pattern, escape="\\"),
                Device.description.ilike(pattern, escape="\\"),
                Device.address.ilike(pattern, escape="\\"),
            )
        )
    return await _page_of(session, query, page, size)


async def devices_of(
    session: AsyncSession, user_id: uuid.UUID, page: int, size: int
) -> tuple[list[Device], int]:
    """A user's devices (admin); 404 for a user this service does not know."""
    if await _live_owner(session, user_id, lock=False) is None:
        raise not_found("user")
    return await _page_of(session, select(Device).where(Device.owner_id == user_id), page, size)


async def _page_of(
    session: AsyncSession, query: Select[Device], page: int, size: int
) -> tuple[list[Device], int]:
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Device.name, Device.id).offset((page - 1) * size).limit(size)
    )
    return list(rows), int(total or 0)


async def read_device(session: AsyncSession, caller: Caller, device_id: uuid.UUID) -> Device:
    """A device the caller may see; another client's device is 'not found', never 403."""
    device = await session.get(Device, device_id)
    if device is None or not (caller.is_admin or device.owner_id == caller.user_id):
        raise not_found("device")
    return device


async def create_device(session: AsyncSession, fields: Mapping[str, Any]) -> Device:
    if fields.get("owner_id") is not None:
        await _require_owner(session, fields["owner_id"])
    device = Device(**fields, revision=1)
    session.add(device)
    await session.flush()
    await session.refresh(device)
    await add_event(session, outbox, DeviceCreated(**_state(device)))
    return device


async def change_device(
    session: AsyncSession, device_id: uuid.UUID, changes: Mapping[str, Any]
) -> Device:
    """Apply `changes` (a PUT's whole state or a PATCH's fields), with `device.updated`."""
    for field in _REQUIRED:
        if field in changes and changes[field] is None:
            raise ApiError(
                422, "validation_error", f"{field} cannot be null", [{"loc": ["body", field]}]
            )
    device = await session.get(Device, device_id, with_for_update=True)
    if device is None:
        raise not_found("device")
    new_owner = changes.get("owner_id")
    if new_owner is not None and new_owner != device.owner_id:
        await _require_owner(session, new_owner)
    if all(getattr(device, key) == value for key, value in changes.items()):
        return device  # nothing changed: no revision, no event
    for key, value in changes.items():
        setattr(device, key, value)
    device.revision += 1
    await session.flush()
    await session.refresh(device)
    await add_event(session, outbox, DeviceUpdated(**_state(device)))
    return device


async def delete_device(session: AsyncSession, device_id: uuid.UUID) -> None:
    device = await session.get(Device, device_id, with_for_update=True)
    if device is None:
        raise not_found("device")
    await remove(session, device)


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
    query = select(Device).order_by(Device.id).limit(limit)
    if after is not None:
        query = query.where(Device.id > after)
    rows = list(await session.scalars(query))
    return DevicePage(
        items=[DeviceUpdated(**_state(d)) for d in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


async def _require_owner(session: AsyncSession, owner_id: uuid.UUID) -> None:
    # FOR SHARE: a `user.deleted` being applied now waits for this transaction (and then
    # deletes the device too), or has committed and the owner is refused here.
    if await _live_owner(session, owner_id, lock=True) is None:
        raise ApiError(
            422, "unknown_owner", "no such user to own the device", {"field": "owner_id"}
        )


async def _live_owner(session: AsyncSession, user_id: uuid.UUID, *, lock: bool) -> Owner | None:
    query = select(Owner).where(Owner.id == user_id, Owner.deleted.is_(False))
    if lock:
        query = query.with_for_update(read=True)
    owner: Owner | None = await session.scalar(query)
    return owner


def _state(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "name": device.name,
        "owner_id": device.owner_id,
        "max_hourly_kwh": device.max_hourly_kwh,
        "revision": device.revision,
    }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
