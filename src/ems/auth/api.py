"""Routes of the auth service: thin, each calling one function of `service`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request, Response, status

from ems.auth import service
from ems.auth.schemas import LoginRequest, RefreshRequest, RegisterRequest, TokenResponse, UserRef
from ems.common.db import Database
from ems.common.errors import ApiError, unauthorized
from ems.common.outbox import OutboxRelay
from ems.common.security import CurrentUser, InvalidToken, TokenVerifier, bearer_token


class AuthDeps:
    """What the routes need, taken from the running app."""

    def __init__(self, request: Request) -> None:
        runtime = request.app.state.runtime
        self.db: Database = runtime.db
        self.ctx: service.AuthContext = request.app.state.auth
        self.relay: OutboxRelay = request.app.state.relay
        self.verifier: TokenVerifier = request.app.state.token_verifier


Deps = Annotated[AuthDeps, Depends()]

router = APIRouter(prefix="/api/auth", tags=["auth"])
internal = APIRouter(prefix="/internal", include_in_schema=False)


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserRef)
async def register(body: RegisterRequest, deps: Deps) -> UserRef:
    """Create a CLIENT account (a `role` in the body is ignored)."""
    async with deps.db.transaction() as session:
        credential = await service.create_credential_row(
            session,
            deps.ctx.passwords,
            username=body.username,
            password=body.password,
            role="CLIENT",
            full_name=body.full_name,
            email=body.email,
        )
    deps.relay.notify()
    return UserRef(id=credential.id, username=credential.username, role="CLIENT")


@router.post("/login", response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, deps: Deps) -> TokenResponse:
    """Exchange username and password for an access token and a refresh token."""
    address = request.client.host if request.client else "unknown"
    async with deps.db.transaction() as session:
        outcome = await service.login(session, deps.ctx, body.username, body.password, address)
    return _tokens_or_raise(outcome)


@router.post("/refresh", response_model=TokenResponse)
async def refresh(body: RefreshRequest, deps: Deps) -> TokenResponse:
    """Exchange a refresh token for a new pair; the old refresh token is spent."""
    async with deps.db.transaction() as session:
        outcome = await service.refresh(session, deps.ctx, body.refresh_token)
    return _tokens_or_raise(outcome)


def _tokens_or_raise(outcome: TokenResponse | ApiError) -> TokenResponse:
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, deps: Deps) -> Response:
    """Revoke the refresh token and every token rotated from the same login."""
    async with deps.db.transaction() as session:
        await service.logout(session, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    """Public keys that verify access tokens (JWKS)."""
    document: dict[str, Any] = request.app.state.auth.keys.jwks
    return document


@router.get("/me", response_model=UserRef)
async def read_me(user: CurrentUser, deps: Deps) -> UserRef:
    """The caller's login, with the role it has now."""
    async with deps.db.transaction() as session:
        credential = await service.current_credential(session, user.user_id)
    if credential is None:
        raise unauthorized("account no longer exists")
    return UserRef(id=credential.id, username=credential.username, role=credential.role)


@internal.get("/verify")
async def verify(request: Request, deps: Deps) -> Response:
    """Forward-auth check for the gateway: 200 with the caller's identity headers, or 401.

    The token comes from the Authorization header or, for WebSocket upgrades, from the
    `token` query parameter of the original request (`X-Original-URI`). The account must
    still exist, and the role sent on is the one it has now, not the one in the token.
    """
    token = bearer_token(request) or _token_from_original_uri(request)
    if token is None:
        raise unauthorized()
    try:
        principal = await deps.verifier.verify(token)
    except InvalidToken:
        raise unauthorized("invalid or expired token") from None
    async with deps.db.sessions() as session:
        credential = await service.current_credential(session, principal.user_id)
    if credential is None:
        raise unauthorized("account no longer exists")
    return Response(
        status_code=200,
        headers={
            "X-User-Id": str(credential.id),
            "X-User-Role": credential.role,
            "X-User-Name": credential.username,
        },
    )


def _token_from_original_uri(request: Request) -> str | None:
    original = request.headers.get("x-original-uri")
    if not original:
        return None
    values = parse_qs(urlsplit(original).query).get("token")
    return values[0] if values else None
