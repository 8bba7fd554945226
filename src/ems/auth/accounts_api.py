"""Routes for logins managed beyond registration: a password change, and the loopback-only
endpoints the users service calls (never routed by the gateway)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from ems.auth import accounts
from ems.auth.api import Deps
from ems.auth.schemas import PasswordChange, TokenResponse
from ems.common.errors import ApiError
from ems.common.security import CurrentUser
from ems.contracts.events import UserRegistered
from ems.contracts.identity import NewCredential, RegisteredPage

router = APIRouter(prefix="/api/auth", tags=["auth"])
internal = APIRouter(prefix="/internal", include_in_schema=False)


@router.post("/password", response_model=TokenResponse)
async def change_password(
    body: PasswordChange, user: CurrentUser, request: Request, deps: Deps
) -> TokenResponse:
    """Change the caller's password (the old one is required); other sessions end."""
    address = request.client.host if request.client else "unknown"
    async with deps.db.transaction() as session:
        outcome = await accounts.change_password(session, deps.ctx, user.user_id, body, address)
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


@internal.post("/credentials", status_code=status.HTTP_201_CREATED, response_model=UserRegistered)
async def create_credential(body: NewCredential, admin: CurrentUser, deps: Deps) -> UserRegistered:
    """A login for a user an admin creates (called by users with the admin's token)."""
    async with deps.db.transaction() as session:
        created = await accounts.create_for_admin(session, deps.ctx, admin, body)
    deps.relay.notify()
    return created


@internal.get("/credentials", response_model=RegisteredPage)
async def list_credentials(
    deps: Deps,
    after: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> RegisteredPage:
    """Every login, for the users service to catch up from at start."""
    async with deps.db.sessions() as session:
        return await accounts.registered_page(session, after, limit)
