"""Catching up at start with what was published before monitoring's sync queue existed.

The devices service answers `GET /internal/devices` and `GET /internal/tariffs`, the users
service `GET /internal/users`, with every entity as its `*.updated` body; each goes through
the same revision-guarded handler as the events, so a snapshot item older than an event
already applied changes nothing (see ems.common.sync).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.db import Database
from ems.common.security import tls_context
from ems.common.sync import catch_up, fetch_page
from ems.contracts.identity import DevicePage, ProfilePage, TariffPage
from ems.monitoring.consumers import DeviceSync
from ems.monitoring.sync.copies import handle_tariff_state, handle_user_state

PAGE_SIZE = 500
Handler = Callable[[AsyncSession, Any], Awaitable[None]]


@dataclass(frozen=True)
class Snapshot:
    what: str
    path: str
    page: type[DevicePage | TariffPage | ProfilePage]
    handler: Handler


def _applying(db: Database, handler: Handler) -> Callable[[Sequence[Any]], Awaitable[int]]:
    async def apply(items: Sequence[Any]) -> int:
        for item in items:
            async with db.transaction() as session:
                await handler(session, item)
        return len(items)

    return apply


async def _copy(db: Database, url: str, credential: httpx.Auth, snapshots: list[Snapshot]) -> None:
    async with httpx.AsyncClient(
        base_url=url, timeout=10.0, auth=credential, verify=tls_context()
    ) as client:
        for snapshot in snapshots:

            async def fetch(after: uuid.UUID | None, snapshot: Snapshot = snapshot) -> Any:
                return await fetch_page(client, snapshot.path, snapshot.page, after, PAGE_SIZE)

            await catch_up(snapshot.what, fetch, _applying(db, snapshot.handler), max_delay=60.0)


def catching_up(
    db: Database,
    sync: DeviceSync,
    devices_url: str,
    users_url: str,
    credential: httpx.Auth,
) -> list[asyncio.Task[None]]:
    """Background tasks applying each snapshot once (retried until its owner answers);
    an empty URL leaves that owner's snapshots out."""
    tasks = []
    if devices_url:
        from_devices = [
            Snapshot("tariffs", "/internal/tariffs", TariffPage, handle_tariff_state),
            Snapshot("devices", "/internal/devices", DevicePage, sync.handle_device_state),
        ]
        tasks.append(_copy(db, devices_url, credential, from_devices))
    if users_url:
        from_users = [Snapshot("users", "/internal/users", ProfilePage, handle_user_state)]
        tasks.append(_copy(db, users_url, credential, from_users))
    return [asyncio.create_task(task, name="catch-up") for task in tasks]
