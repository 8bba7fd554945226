"""Message handlers of the devices service: the synced copy of users, and a deleted user's
devices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.inbox import Subscription
from ems.common.sync import RelayingConsumer
from ems.common.unit_of_work import UnitOfWork
from ems.contracts.events import UserCreated, UserDeleted, UserUpdated
from ems.devices.models import Device, Owner, processed_events
from ems.devices.service import remove

QUEUE = "devices.sync"


async def handle_user_changed(session: AsyncSession, event: UserCreated | UserUpdated) -> None:
    """Copy a user's newer state (a `user.updated` may arrive before its `user.created`)."""
    await upsert_owner(session, event.id, event.revision, event.username, event.role)


async def handle_user_deleted(session: AsyncSession, event: UserDeleted) -> None:
    """Tombstone the user and delete their devices, each with its `device.deleted`."""
    if not await upsert_owner(session, event.id, event.revision, deleted=True):
        return
    devices = await session.scalars(
        select(Device).where(Device.owner_id == event.id).with_for_update()
    )
    for device in devices.all():
        await remove(session, device)


async def upsert_owner(
    session: AsyncSession,
    user_id: uuid.UUID,
    revision: int,
    username: str | None = None,
    role: str | None = None,
    *,
    deleted: bool = False,
) -> bool:
    """Write this state of the user unless the copy already has a newer one (repeats and
    out-of-order events change nothing); True when it was written."""
    state: dict[str, Any] = {"revision": revision, "deleted": deleted}
    if not deleted:
        state |= {"username": username, "role": role}
    statement = insert(Owner).values(id=user_id, **state)
    written = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[Owner.id],
            set_={**state, "synced_at": func.now()},
            where=Owner.revision < statement.excluded.revision,
        ).returning(Owner.id)
    )
    return written is not None


def user_events_consumer(uow: UnitOfWork) -> RelayingConsumer:
    return RelayingConsumer(
        uow.db,
        processed_events,
        QUEUE,
        [
            Subscription(UserCreated, handle_user_changed),
            Subscription(UserUpdated, handle_user_changed),
            Subscription(UserDeleted, handle_user_deleted),
        ],
        relay=uow.relay,
    )


async def apply_snapshot(uow: UnitOfWork, items: Sequence[UserUpdated]) -> int:
    """Users published before this service's queue existed (the first admin, say)."""
    written = 0
    async with uow.transaction() as session:
        for item in items:
            written += await upsert_owner(session, item.id, item.revision, item.username, item.role)
    return written
