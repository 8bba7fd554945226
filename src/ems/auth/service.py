"""What the auth service does: each use case opens its own unit of work.

Passwords are hashed and checked outside any transaction (argon2 is slow on purpose and
must never hold a database connection), and login throttling counts in statements of its
own before a password is looked at (security/throttle.py).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth.models import Credential, RefreshToken, RevokedSession, outbox
from ems.auth.schemas import PasswordChange, RegisterRequest, TokenResponse, UserRef
from ems.auth.security import tokens
from ems.auth.security.keys import KeyRing
from ems.auth.security.passwords import Passwords
from ems.auth.security.throttle import LoginThrottle
from ems.auth.settings import AuthSettings
from ems.common.credentials import secret_matches
from ems.common.db import Database
from ems.common.errors import ApiError, conflict, forbidden, unauthorized
from ems.common.outbox import OutboxRelay, add_event
from ems.common.revocations import ALL_VERSIONS, Revocations
from ems.common.security import Principal
from ems.contracts.events import Role, UserRegistered
from ems.contracts.identity import (
    NewCredential,
    RegisteredPage,
    Revocation,
    RevocationPage,
    RevocationReason,
    ServiceToken,
)

# Revocation pollers get what was recorded this long before their cursor again: a
# revocation whose transaction commits late is still seen (applying twice is harmless).
REVOCATION_OVERLAP = timedelta(seconds=5)
# Kept past the last access token it can name, for clocks a little apart.
REVOCATION_LEEWAY = timedelta(seconds=60)


@dataclass
class AuthContext:
    """Everything the use cases need, built once in the app's lifespan."""

    settings: AuthSettings
    db: Database
    passwords: Passwords
    keys: KeyRing
    throttle: LoginThrottle
    revocations: Revocations
    relay: OutboxRelay
    master_key: str


# --- logins ----------------------------------------------------------------------------------
async def register(ctx: AuthContext, body: RegisterRequest) -> UserRef:
    """A CLIENT login for whoever registers."""
    credential = await create_credential(
        ctx.db,
        ctx.passwords,
        username=body.username,
        password=body.password,
        role="CLIENT",
        full_name=body.full_name,
        email=body.email,
    )
    ctx.relay.notify()
    return UserRef(id=credential.id, username=credential.username, role="CLIENT")


async def create_for_admin(
    ctx: AuthContext, admin: Principal, body: NewCredential
) -> UserRegistered:
    """A login an admin asked for through the users service (which chose the id)."""
    async with ctx.db.sessions() as session:
        caller = await session.get(Credential, admin.user_id)
    if caller is None or caller.role != "ADMIN":
        raise forbidden("admin role required")
    credential = await create_credential(
        ctx.db,
        ctx.passwords,
        username=body.username,
        password=body.password,
        role=body.role,
        full_name=body.full_name,
        email=body.email,
        user_id=body.id,
    )
    ctx.relay.notify()
    return UserRegistered(
        id=credential.id,
        username=credential.username,
        role=body.role,
        full_name=body.full_name,
        email=credential.email,
    )


async def create_credential(
    db: Database,
    passwords: Passwords,
    *,
    username: str,
    password: str,
    role: Role,
    full_name: str | None = None,
    email: str | None = None,
    user_id: uuid.UUID | None = None,
) -> Credential:
    """A new login and its `UserRegistered` event; the password hashed outside the
    transaction (a flood of registrations never holds the pool while argon2 runs)."""
    username, email = username.lower(), email.lower() if email else None
    async with db.sessions() as session:
        await _refuse_taken(session, username, email)
    password_hash = await passwords.hash(password)
    async with db.transaction() as session:
        credential = Credential(
            id=user_id or uuid.uuid4(),
            username=username,
            password_hash=password_hash,
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
                id=credential.id, username=username, role=role, full_name=full_name, email=email
            ),
        )
    return credential


async def _refuse_taken(session: AsyncSession, username: str, email: str | None) -> None:
    """409 naming the field, checked first so the answer says which one is taken."""
    if await session.scalar(select(Credential.id).where(Credential.username == username)):
        raise conflict("username is already taken", {"field": "username"})
    if email and await session.scalar(select(Credential.id).where(Credential.email == email)):
        raise conflict("email is already taken", {"field": "email"})


async def login(ctx: AuthContext, username: str, password: str, address: str) -> TokenResponse:
    """Tokens for a right password, once the throttle lets the attempt through."""
    name = username.strip().lower()
    attempt = await ctx.throttle.attempt(name, address)
    if isinstance(attempt, ApiError):
        raise attempt
    if attempt.delay > 0:
        await asyncio.sleep(attempt.delay)
    async with ctx.db.sessions() as session:
        found = await session.scalar(select(Credential).where(Credential.username == name))
    ok = await ctx.passwords.verify(found.password_hash if found else None, password)
    if found is None or not ok:
        # Same answer for an unknown user and a wrong password.
        raise unauthorized("invalid username or password")
    await ctx.throttle.succeeded(attempt)
    rehashed = (
        await ctx.passwords.hash(password)
        if ctx.passwords.needs_rehash(found.password_hash)
        else None
    )
    async with ctx.db.transaction() as session:
        credential = await session.get(Credential, found.id, with_for_update=True)
        if credential is None:
            raise unauthorized("invalid username or password")
        if rehashed is not None:
            credential.password_hash = rehashed
        return await _new_session(session, ctx, credential)


async def change_password(
    ctx: AuthContext, user_id: uuid.UUID, body: PasswordChange, address: str
) -> TokenResponse:
    """A new password for the caller, who proves the old one; every session ends, the
    caller goes on with a new one (the answer)."""
    async with ctx.db.sessions() as session:
        found = await session.get(Credential, user_id)
    if found is None:
        raise unauthorized("account no longer exists")
    # Wrong old passwords count as failed logins: this is no way around throttling.
    attempt = await ctx.throttle.attempt(found.username, address)
    if isinstance(attempt, ApiError):
        raise attempt
    if attempt.delay > 0:
        await asyncio.sleep(attempt.delay)
    if not await ctx.passwords.verify(found.password_hash, body.old_password):
        # Not 401: the caller's token is fine, and clients log out on a 401.
        raise ApiError(
            422, "wrong_password", "the current password is wrong", {"field": "old_password"}
        )
    await ctx.throttle.succeeded(attempt)
    password_hash = await ctx.passwords.hash(body.new_password)
    async with ctx.db.transaction() as session:
        credential = await session.get(Credential, user_id, with_for_update=True)
        if credential is None:
            raise unauthorized("account no longer exists")
        credential.password_hash = password_hash
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        revoked = await new_token_version(session, ctx.settings, credential, "password")
        issued = await _new_session(session, ctx, credential)
    ctx.revocations.apply([revoked])
    return issued


async def current_credential(ctx: AuthContext, user_id: uuid.UUID) -> Credential | None:
    async with ctx.db.sessions() as session:
        return await session.get(Credential, user_id)


# --- sessions --------------------------------------------------------------------------------
async def refresh(ctx: AuthContext, token: str) -> TokenResponse:
    """Rotate: the presented token is spent and a new pair issued in the same session.

    A spent token presented again means it was copied: the whole session ends.
    """
    now = datetime.now(UTC)
    ended: Revocation | None = None
    async with ctx.db.transaction() as session:
        row = await session.scalar(
            select(RefreshToken)
            .where(RefreshToken.token_hash == tokens.digest(token))
            .with_for_update()
        )
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise unauthorized("invalid refresh token")
        if row.session_started_at + timedelta(days=ctx.settings.session_max_days) <= now:
            raise unauthorized("this login is too old; log in again")
        if row.used_at is None:
            row.used_at = now
            credential = await session.get(Credential, row.user_id)
            if credential is None:
                raise unauthorized("invalid refresh token")
            return await _issue(session, ctx, credential, row.family_id, row.session_started_at)
        ended = await end_session(session, ctx.settings, row.user_id, row.family_id, "reuse")
    ctx.revocations.apply([ended])
    raise unauthorized("refresh token was already used; the session has ended")


async def logout(ctx: AuthContext, token: str) -> None:
    """End the session of a refresh token: it and every access token of it stop."""
    async with ctx.db.transaction() as session:
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == tokens.digest(token))
        )
        if row is None:
            return
        ended = await end_session(session, ctx.settings, row.user_id, row.family_id, "logout")
    ctx.revocations.apply([ended])


async def _new_session(
    session: AsyncSession, ctx: AuthContext, credential: Credential
) -> TokenResponse:
    return await _issue(session, ctx, credential, uuid.uuid4(), datetime.now(UTC))


async def _issue(
    session: AsyncSession,
    ctx: AuthContext,
    credential: Credential,
    session_id: uuid.UUID,
    started_at: datetime,
) -> TokenResponse:
    refresh_token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            family_id=session_id,
            user_id=credential.id,
            token_hash=tokens.digest(refresh_token),
            expires_at=datetime.now(UTC) + timedelta(days=ctx.settings.refresh_token_ttl_days),
            session_started_at=started_at,
        )
    )
    access = tokens.access_token(
        ctx.settings,
        ctx.keys,
        user_id=credential.id,
        username=credential.username,
        role=credential.role,
        session_id=session_id,
        version=credential.token_version,
    )
    return TokenResponse(
        access_token=access,
        expires_in=ctx.settings.access_token_ttl_seconds,
        refresh_token=refresh_token,
        user=UserRef(id=credential.id, username=credential.username, role=credential.role),
    )


# --- revocations -----------------------------------------------------------------------------
async def end_session(
    session: AsyncSession,
    settings: AuthSettings,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    reason: RevocationReason,
) -> Revocation:
    """Revoke a session's refresh tokens and record that its access tokens stop too."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return await _record(session, settings, user_id, reason, session_id=session_id)


async def new_token_version(
    session: AsyncSession, settings: AuthSettings, credential: Credential, reason: RevocationReason
) -> Revocation:
    """Every access token issued to the user so far stops (a password or role change)."""
    credential.token_version += 1
    return await _record(
        session, settings, credential.id, reason, min_version=credential.token_version
    )


async def user_deleted(
    session: AsyncSession, settings: AuthSettings, user_id: uuid.UUID
) -> Revocation:
    """Every access token of a deleted user stops."""
    return await _record(session, settings, user_id, "deleted", min_version=ALL_VERSIONS)


async def _record(
    session: AsyncSession,
    settings: AuthSettings,
    user_id: uuid.UUID,
    reason: RevocationReason,
    *,
    session_id: uuid.UUID | None = None,
    min_version: int | None = None,
) -> Revocation:
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=settings.access_token_ttl_seconds) + REVOCATION_LEEWAY
    # Rows past their time name no token that could still be used.
    await session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    session.add(
        RevokedSession(
            user_id=user_id,
            session_id=session_id,
            min_version=min_version,
            reason=reason,
            expires_at=expires_at,
        )
    )
    return Revocation(
        user_id=user_id,
        session_id=session_id,
        min_version=min_version,
        reason=reason,
        expires_at=expires_at,
    )


async def revocations_since(db: Database, since: datetime | None) -> RevocationPage:
    """What is revoked and still in force: everything, or what was recorded since `since`
    (less the overlap)."""
    async with db.sessions() as session:
        # Read before the rows, in the same transaction: nothing committed after the
        # snapshot can carry an earlier time than the cursor less the overlap.
        cursor: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
        query = select(RevokedSession).where(RevokedSession.expires_at > cursor)
        if since is not None:
            query = query.where(RevokedSession.recorded_at > since - REVOCATION_OVERLAP)
        rows = (await session.scalars(query.order_by(RevokedSession.id))).all()
    items = [
        Revocation(
            user_id=row.user_id,
            session_id=row.session_id,
            min_version=row.min_version,
            reason=row.reason,
            expires_at=row.expires_at,
        )
        for row in rows
    ]
    return RevocationPage(items=items, cursor=cursor)


# --- the users service's snapshot --------------------------------------------------------------
async def registered_page(db: Database, after: uuid.UUID | None, limit: int) -> RegisteredPage:
    """Every login, in id order, as the event that announced it."""
    query = select(Credential).order_by(Credential.id).limit(limit)
    if after is not None:
        query = query.where(Credential.id > after)
    async with db.sessions() as session:
        rows = (await session.scalars(query)).all()
    items = [
        UserRegistered(
            id=c.id,
            username=c.username,
            role="ADMIN" if c.role == "ADMIN" else "CLIENT",
            email=c.email,
        )
        for c in rows
    ]
    return RegisteredPage(items=items, next_after=rows[-1].id if len(rows) == limit else None)


# --- services' credentials ---------------------------------------------------------------------
def issue_service_token(ctx: AuthContext, name: str, secret: str) -> ServiceToken:
    """A service token for a service that proves its secret."""
    if not secret_matches(ctx.master_key, name, secret):
        raise unauthorized("unknown service or wrong secret")
    return ServiceToken(
        token=tokens.service_token(ctx.settings, ctx.keys, name),
        expires_in=ctx.settings.service_token_ttl_seconds,
    )


def raw_service_caller(ctx: AuthContext, presented: str) -> str | None:
    """The caller of a `<service>:<secret>` credential (what nginx sends), or None."""
    name, sep, secret = presented.partition(":")
    if sep and secret_matches(ctx.master_key, name, secret):
        return name
    return None
