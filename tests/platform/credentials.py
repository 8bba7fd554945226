"""Service credentials in tests: a service token as a given service would get it."""

from __future__ import annotations

import httpx

from ems.common.credentials import derive_secret, master_key
from ems.common.settings import CommonSettings


async def service_headers(
    auth: httpx.AsyncClient, auth_settings: CommonSettings, name: str
) -> dict[str, str]:
    """`X-Service-Token` for `name`, exchanged at auth (`auth` talks to it straight) with
    the secret derived from this run's master key."""
    secret = derive_secret(master_key(auth_settings, None), name)
    response = await auth.post("/internal/service-token", auth=(name, secret))
    assert response.status_code == 200, response.text
    return {"X-Service-Token": response.json()["token"]}
