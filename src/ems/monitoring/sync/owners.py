"""Ownership periods: who owned a device when, and which hours a client may see.

Monitoring records a period per owner from `device.*` events, the boundary being the
event's `occurred_at` (a snapshot item, which has no time, uses the moment it is applied).
A client sees a device only while they own it now, and only its hours that start at or
after the start of their current period rounded up to the hour; the previous owner loses
the device altogether. A device's first owner ever has no boundary behind them: they see
its whole history (a meter's backfill from before the device was registered included).
Admins see everything. See docs/operations.md ("Ownership periods").

The rule lives in the view `current_owners` (migration 7c3e91a5d2b4): one row per owned
device with its owner and `visible_from`, the first UTC hour that owner may see. Every
client read joins it with `visible_hours` below.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ems.common.errors import not_found


@dataclass(frozen=True)
class Scope:
    """One device or all, as seen by `owner_id` (their devices now, from their first
    visible hour), or by an admin (`owner_id` None: every device, every hour)."""

    device_id: uuid.UUID | None
    owner_id: uuid.UUID | None


async def resolve_scope(
    conn: Any, user_id: uuid.UUID, is_admin: bool, device_id: uuid.UUID | None
) -> Scope:
    """The caller's scope; 404 for a device they do not own now (or that does not exist):
    a client cannot even learn that a device exists, nor keep a meter they handed on."""
    owner = None if is_admin else user_id
    if device_id is None:
        return Scope(None, owner)
    if owner is None:
        found = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1 AND NOT deleted)", device_id
        )
    else:
        found = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM current_owners co JOIN devices d ON d.id = co.device_id"
            " WHERE co.device_id = $1 AND co.owner_id = $2 AND NOT d.deleted)",
            device_id,
            owner,
        )
    if not found:
        raise not_found("device")
    return Scope(device_id, owner)


def visible_hours(device: str, hour: str, owner_param: str) -> str:
    """A JOIN clause limiting rows to what the owner `owner_param` may see: devices they
    own now and hours from their first visible one. `device` and `hour` are the columns of
    the joined row (e.g. "a.device_id", "a.hour"); `owner_param` a placeholder ("$2").

    Usage: f"FROM alerts a {visible_hours('a.device_id', 'a.hour', '$2')} WHERE ..."
    """
    return (
        f"JOIN current_owners co ON co.device_id = {device} AND co.owner_id = {owner_param}"
        f" AND {hour} >= co.visible_from"
    )


def owner_if_visible(device: str, owner: str, hour: str) -> str:
    """A SQL expression: the device's owner `owner` if they may see `hour` (their current
    period's first visible hour, `visible_from`, is at or before it), else NULL. For live
    pushes, which must reach only the users the read side would show the hour to.

    Usage: f"SELECT {owner_if_visible('d.id', 'd.owner_id', 'a.hour')} AS owner_id ..."
    """
    return (
        f"(SELECT co.owner_id FROM current_owners co WHERE co.device_id = {device}"  # noqa: S608
        f" AND co.owner_id = {owner} AND {hour} >= co.visible_from)"
    )


async def record_owner(
    conn: Any, device_id: uuid.UUID, owner_id: uuid.UUID | None, at: datetime
) -> None:
    """The device's owner from `at` on (called under the device's exclusive lock, only
    for a state newer than the copy's): the current period ends and the new one starts at
    `at`; the first owner a device ever has starts from the beginning."""
    current = await conn.fetchrow(
        "SELECT id, owner_id, since FROM device_owners WHERE device_id = $1 AND until IS NULL",
        device_id,
    )
    if current is not None and current["owner_id"] == owner_id:
        return
    if current is not None:
        # A period never ends before it started (a snapshot applied at an earlier moment
        # than an event it overtook).
        await conn.execute(
            "UPDATE device_owners SET until = greatest($2::timestamptz, since) WHERE id = $1",
            current["id"],
            at,
        )
    if owner_id is None:
        return
    had_owner = current is not None or await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM device_owners WHERE device_id = $1)", device_id
    )
    await conn.execute(
        "INSERT INTO device_owners (device_id, owner_id, since) VALUES ($1, $2, $3)",
        device_id,
        owner_id,
        at if had_owner else None,
    )
