"""The users service's loopback calls to auth: creating a login, reading every login."""

from __future__ import annotations

import uuid

import httpx

from ems.common.errors import ApiError
from ems.common.sync import fetch_page
from ems.contracts.events import UserRegistered
from ems.contracts.identity import NewCredential, RegisteredPage

# auth's answers an admin should see as they are (taken username, bad token, no right).
_PASSED_ON = frozenset({401, 403, 409, 422})


class AuthClient:
    def __init__(self, base_url: str, timeout: float, credential: httpx.Auth) -> None:
        # Every call carries this service's token (`credential`); creating a login also
        # carries the admin's own, which auth checks as well.
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, auth=credential)

    async def create_credential(self, token: str, body: NewCredential) -> UserRegistered:
        """Ask auth for the login, on the admin's own token (auth checks it too)."""
        try:
            response = await self.http.post(
                "/internal/credentials",
                content=body.model_dump_json(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.HTTPError:
            raise ApiError(
                503, "auth_unavailable", "logins cannot be created right now; try again"
            ) from None
        if response.status_code == 201:
            return UserRegistered.model_validate_json(response.content)
        if response.status_code in _PASSED_ON:
            error = _error_of(response)
            raise ApiError(
                response.status_code,
                str(error.get("code", "error")),
                str(error.get("message", "refused by auth")),
                error.get("details"),
            )
        raise ApiError(502, "auth_failed", "the auth service could not create the login")

    async def registered_page(self, after: uuid.UUID | None, limit: int) -> RegisteredPage:
        return await fetch_page(self.http, "/internal/credentials", RegisteredPage, after, limit)

    async def close(self) -> None:
        await self.http.aclose()


def _error_of(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
