"""Which meters to play: ids on the command line, a file, or every device of the platform."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from ems.simulator.readings import Meter


def meters_from_file(path: Path) -> list[Meter]:
    """One device per line, `<uuid>` or `<uuid>,<scale>`; `#` starts a comment."""
    meters: list[Meter] = []
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        device, _, scale = (part.strip() for part in text.partition(","))
        meters.append(Meter(uuid.UUID(device), float(scale) if scale else None))
    return meters


async def platform_meters(api_url: str, username: str, password: str) -> list[Meter]:
    """Every device the platform has, listed by an admin through the gateway."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10.0) as client:
        login = await client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        meters: list[Meter] = []
        page = 1
        while True:
            response = await client.get(
                "/api/devices", params={"page": page, "size": 100}, headers=headers
            )
            response.raise_for_status()
            body = response.json()
            # A device with a meter id is played as the meter naming itself by it.
            meters += [
                Meter(uuid.UUID(item["id"]), meter_id=item.get("meter_id"))
                for item in body["items"]
            ]
            if page * body["size"] >= body["total"] or not body["items"]:
                return meters
            page += 1
