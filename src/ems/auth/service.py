"""What the auth service does, as plain async functions over a session."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth.keys import KeyRing
from ems.auth.models import Credential, RefreshToken, outbox
from ems.auth.passwords import Passwords
from ems.auth.schemas import TokenResponse, UserRef
from ems.auth.settings import AuthSettings
from ems.auth.throttle import LoginThrottle
from ems.common.errors import ApiError, conflict, unauthorized
from ems.common.outbox import add_event
from ems.common.security import ACCESS_TOKEN_TYPE, ALGORITHM
from ems.contracts.events import Role, UserRegistered


@dataclass(frozen=True)
class AuthContext:
    """Everything the auth functions need besides a session."""

    settings: AuthSettings
    passwords: Passwords
    keys: KeyRing
    throttle: LoginThrottle


async def create_credential_row(
    session: AsyncSession,
    passwords: Passwords,
    *,
    username: str,
    password: str,
    role: Role,
    full_name: str | None = None,
    email: str | None = None,
    user_id: uuid.UUID | None = None,
) -> Credential:
    """A new login plus its `UserRegistered` event, in the caller's transaction."""
    email = email.lower() if email else None
    await _refuse_taken(session, username.lower(), email)
    credential = Credential(
        id=user_id or uuid.uuid4(),
        username=username.lower(),
        password_hash=await passwords.hash(password),
        role=role,
        email=email,
    )
    session.add(credential)
    try:
        await session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same name, email or id.
        raise conflict("username or email is already taken") from None
    await add_event(
        session,
        outbox,
        UserRegistered(
            id=credential.id,
            username=credential.username,
            role=role,
            full_name=full_name,
            email=email,
        ),
    )
    return credential


async def _refuse_taken(session: AsyncSession, username: str, email: str | None) -> None:
    """409 naming the field, checked first so the answer says which one is taken."""
    if await session.scalar(select(Credential.id).where(Credential.username == username)):
        raise conflict("username is already taken", {"field": "username"})
    if email and await session.scalar(select(Credential.id).where(Credential.email == email)):
        raise conflict("email is already taken", {"field": "email"})


async def login(
    session: AsyncSession, ctx: AuthContext, username: str, password: str, address: str
) -> TokenResponse | ApiError:
    """Tokens for a right password; a refusal is returned, not raised, so that the failure
    it records is committed with the transaction."""
    name = username.strip().lower()
    keys = {"account": name, "address": address}
    failures = await ctx.throttle.failures(session, keys)
    wait = ctx.throttle.retry_after(failures)
    if wait is not None:
        return ApiError(
            429,
            "too_many_attempts",
            "too many failed logins; try again later",
            {"retry_after": wait},
            headers={"Retry-After": str(wait)},
        )
    credential = await session.scalar(select(Credential).where(Credential.username == name))
    ok = await ctx.passwords.verify(credential.password_hash if credential else None, password)
    if credential is None or not ok:
        await ctx.throttle.record_failure(session, keys)
        # Same answer for an unknown user and a wrong password.
        return unauthorized("invalid username or password")
    if failures.count("account"):
        await ctx.throttle.clear_account(session, name)
    if ctx.passwords.needs_rehash(credential.password_hash):
        credential.password_hash = await ctx.passwords.hash(password)
    return await issue_tokens(session, ctx, credential, family_id=uuid.uuid4())


async def issue_tokens(
    session: AsyncSession, ctx: AuthContext, credential: Credential, family_id: uuid.UUID
) -> TokenResponse:
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            family_id=family_id,
            user_id=credential.id,
            token_hash=_digest(refresh),
            expires_at=datetime.now(UTC) + timedelta(days=ctx.settings.refresh_token_ttl_days),
        )
    )
    return TokenResponse(
        access_token=access_token(ctx, credential),
        expires_in=ctx.settings.access_token_ttl_seconds,
        refresh_token=refresh,
        user=UserRef(id=credential.id, username=credential.username, role=credential.role),
    )


def access_token(ctx: AuthContext, credential: Credential) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ctx.settings.jwt_issuer,
        "aud": ctx.settings.jwt_audience,
        "sub": str(credential.id),
        "name": credential.username,
        "role": credential.role,
        "typ": ACCESS_TOKEN_TYPE,
        "iat": now,
        "exp": now + timedelta(seconds=ctx.settings.access_token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        claims, ctx.keys.signing_key, algorithm=ALGORITHM, headers={"kid": ctx.keys.signing_kid}
    )


async def refresh(session: AsyncSession, ctx: AuthContext, token: str) -> TokenResponse | ApiError:
    """Rotate: the presented token is spent and a new pair issued in the same family.

    A spent token presented again means it was copied: the whole family is revoked, and
    the refusal is returned (not raised) so that the revocation is committed.
    """
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _digest(token)).with_for_update()
    )
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise unauthorized("invalid refresh token")
    if row.used_at is not None:
        await revoke_family(session, row.family_id)
        return unauthorized("refresh token was already used; all sessions of it are revoked")
    row.used_at = now
    credential = await session.get(Credential, row.user_id)
    if credential is None:
        raise unauthorized("invalid refresh token")
    return await issue_tokens(session, ctx, credential, family_id=row.family_id)


async def logout(session: AsyncSession, token: str) -> None:
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _digest(token))
    )
    if row is not None:
        await revoke_family(session, row.family_id)


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def current_credential(session: AsyncSession, user_id: uuid.UUID) -> Credential | None:
    return await session.get(Credential, user_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
