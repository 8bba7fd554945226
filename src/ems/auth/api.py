"""Routes of the auth service: thin, each calling one use case of `service`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from ems.auth import service
from ems.auth.schemas import (
    LoginRequest,
    PasswordChange,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    UserRef,
)
from ems.auth.service import AuthContext
from ems.common.credentials import GATEWAY, internal_caller
from ems.common.deps import provided
from ems.common.errors import unauthorized
from ems.common.openapi import errors
from ems.common.security import CurrentUser, bearer_token, verify_or_raise
from ems.contracts.events import UserRegistered
from ems.contracts.identity import NewCredential, RegisteredPage, RevocationPage, ServiceToken

Ctx = Annotated[AuthContext, Depends(provided(AuthContext))]

router = APIRouter(prefix="/api/auth", tags=["auth"])
internal = APIRouter(prefix="/internal", include_in_schema=False)


def _address(request: Request) -> str:
    # The gateway's X-Forwarded-For, believed from the addresses in forwarded_allow_ips.
    return request.client.host if request.client else "unknown"


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRef,
    # 429: the gateway limits registrations per address.
    responses=errors(409, 429),
)
async def register(body: RegisterRequest, ctx: Ctx) -> UserRef:
    """Create a CLIENT account (a `role` in the body is ignored)."""
    return await service.register(ctx, body)


@router.post("/login", response_model=TokenResponse, responses=errors(401, 429))
async def login(body: LoginRequest, request: Request, ctx: Ctx) -> TokenResponse:
    """Exchange username and password for an access token and a refresh token."""
    return await service.login(ctx, body.username, body.password, _address(request))


@router.post("/refresh", response_model=TokenResponse, responses=errors(401))
async def refresh(body: RefreshRequest, ctx: Ctx) -> TokenResponse:
    """Exchange a refresh token for a new pair; the old refresh token is spent."""
    return await service.refresh(ctx, body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, ctx: Ctx) -> Response:
    """End the login: its refresh token and every access token of it stop working."""
    await service.logout(ctx, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/jwks.json")
async def jwks(ctx: Ctx) -> dict[str, Any]:
    """Public keys that verify access tokens (JWKS)."""
    return ctx.keys.jwks


@router.get("/me", response_model=UserRef)
async def read_me(user: CurrentUser, ctx: Ctx) -> UserRef:
    """The caller's login, with the role it has now."""
    credential = await service.current_credential(ctx, user.user_id)
    if credential is None:
        raise unauthorized("account no longer exists")
    return UserRef(id=credential.id, username=credential.username, role=credential.role)


@router.post("/password", response_model=TokenResponse, responses=errors(422, 429))
async def change_password(
    body: PasswordChange, user: CurrentUser, request: Request, ctx: Ctx
) -> TokenResponse:
    """Change the caller's password (the old one is required); every session ends and
    the answer is the caller's new one."""
    return await service.change_password(ctx, user.user_id, body, _address(request))


# --- loopback only: never routed by the gateway, each with a service credential -----------------
@internal.get("/verify", dependencies=[internal_caller(GATEWAY)])
async def verify(request: Request) -> Response:
    """Forward-auth check for the gateway: 200 with the caller's identity headers, or 401.

    The token comes from the Authorization header or, for WebSocket upgrades, from the
    `token` query parameter of the original request (`X-Original-URI`). Checked in memory:
    signature, expiry, and this process's copy of the revocations (no database).
    """
    token = bearer_token(request) or _token_from_original_uri(request)
    if token is None:
        raise unauthorized()
    principal = await verify_or_raise(request.app.state.token_verifier, token)
    return Response(
        status_code=200,
        headers={
            "X-User-Id": str(principal.user_id),
            "X-User-Role": principal.role,
            "X-User-Name": principal.username,
        },
    )


def _token_from_original_uri(request: Request) -> str | None:
    original = request.headers.get("x-original-uri")
    if not original:
        return None
    values = parse_qs(urlsplit(original).query).get("token")
    return values[0] if values else None


@internal.post(
    "/credentials",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRegistered,
    dependencies=[internal_caller("users")],
)
async def create_credential(body: NewCredential, admin: CurrentUser, ctx: Ctx) -> UserRegistered:
    """A login for a user an admin creates (called by users with the admin's token)."""
    return await service.create_for_admin(ctx, admin, body)


@internal.get(
    "/credentials", response_model=RegisteredPage, dependencies=[internal_caller("users")]
)
async def list_credentials(
    ctx: Ctx,
    after: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> RegisteredPage:
    """Every login, for the users service to catch up from at start."""
    return await service.registered_page(ctx.db, after, limit)


@internal.get(
    "/revocations",
    response_model=RevocationPage,
    dependencies=[internal_caller()],
)
async def list_revocations(ctx: Ctx, since: datetime | None = None) -> RevocationPage:
    """What was revoked since the cursor (all that is in force without one)."""
    return await service.revocations_since(ctx.db, since)


@internal.post("/service-token", response_model=ServiceToken)
async def create_service_token(
    credentials: Annotated[HTTPBasicCredentials, Depends(HTTPBasic())], ctx: Ctx
) -> ServiceToken:
    """A short-lived service token for a service that proves its secret (HTTP Basic)."""
    return service.issue_service_token(ctx, credentials.username, credentials.password)
