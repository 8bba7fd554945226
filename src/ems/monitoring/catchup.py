"""Catching up at start with devices created before monitoring's sync queue existed.

The devices service answers `GET /internal/devices` with every device as a `DeviceUpdated`
body; each goes through the same revision-guarded handler as the events, so a snapshot item
older than an event already applied changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx

from ems.common.db import Database
from ems.contracts.identity import DevicePage
from ems.monitoring.consumers import DeviceSync

log = logging.getLogger(__name__)


async def catch_up_devices(
    db: Database, sync: DeviceSync, devices_url: str, credential: httpx.Auth
) -> int:
    """Apply the whole device snapshot; returns how many devices it held."""
    seen = 0
    after: uuid.UUID | None = None
    async with httpx.AsyncClient(base_url=devices_url, timeout=10.0, auth=credential) as client:
        while True:
            params: dict[str, str | int] = {"limit": 500}
            if after is not None:
                params["after"] = str(after)
            response = await client.get("/internal/devices", params=params)
            response.raise_for_status()
            page = DevicePage.model_validate(response.json())
            for device in page.items:
                async with db.transaction() as session:
                    await sync.handle_device_state(session, device)
            seen += len(page.items)
            if page.next_after is None:
                return seen
            after = page.next_after


async def keep_catching_up(
    db: Database, sync: DeviceSync, devices_url: str, credential: httpx.Auth
) -> None:
    """Retry until one snapshot went through (the devices service may start later)."""
    pause = 1.0
    while True:
        try:
            count = await catch_up_devices(db, sync, devices_url, credential)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("device snapshot not available yet: %r", exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 60.0)
            continue
        log.info("caught up with the devices service", extra={"devices": count})
        return
