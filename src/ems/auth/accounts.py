"""Logins managed on behalf of the users service and their owners: an admin's new login,
a password change, and the snapshot users catches up from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth.models import Credential, RefreshToken
from ems.auth.schemas import PasswordChange, TokenResponse
from ems.auth.service import AuthContext, create_credential_row, issue_tokens
from ems.common.errors import ApiError, forbidden, unauthorized
from ems.common.security import Principal
from ems.contracts.events import UserRegistered
from ems.contracts.identity import NewCredential, RegisteredPage


async def create_for_admin(
    session: AsyncSession, ctx: AuthContext, admin: Principal, body: NewCredential
) -> UserRegistered:
    """A login an admin asked for through the users service (which chose the id)."""
    # The role signed into the caller's token may be stale: the copy here is current.
    caller = await session.get(Credential, admin.user_id)
    if caller is None or caller.role != "ADMIN":
        raise forbidden("admin role required")
    credential = await create_credential_row(
        session,
        ctx.passwords,
        username=body.username,
        password=body.password,
        role=body.role,
        full_name=body.full_name,
        email=body.email,
        user_id=body.id,
    )
    return UserRegistered(
        id=credential.id,
        username=credential.username,
        role=body.role,
        full_name=body.full_name,
        email=credential.email,
    )


async def change_password(
    session: AsyncSession, ctx: AuthContext, user_id: uuid.UUID, body: PasswordChange, address: str
) -> TokenResponse | ApiError:
    """A new password for the caller, who proves the old one; every other session ends.

    Wrong old passwords count as failed logins (so this is no way around throttling); the
    refusal is returned, not raised, so that the failure is committed.
    """
    credential = await session.get(Credential, user_id, with_for_update=True)
    if credential is None:
        raise unauthorized("account no longer exists")
    keys = {"account": credential.username, "address": address}
    wait = ctx.throttle.retry_after(await ctx.throttle.failures(session, keys))
    if wait is not None:
        return ApiError(
            429,
            "too_many_attempts",
            "too many failed attempts; try again later",
            {"retry_after": wait},
            headers={"Retry-After": str(wait)},
        )
    if not await ctx.passwords.verify(credential.password_hash, body.old_password):
        await ctx.throttle.record_failure(session, keys)
        # Not 401: the caller's token is fine, and clients log out on a 401.
        return ApiError(
            422, "wrong_password", "the current password is wrong", {"field": "old_password"}
        )
    credential.password_hash = await ctx.passwords.hash(body.new_password)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    # The caller goes on with a fresh session; every other one has to log in again.
    return await issue_tokens(session, ctx, credential, family_id=uuid.uuid4())


async def registered_page(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> RegisteredPage:
    """Every login, in id order, as the event that announced it."""
    query = select(Credential).order_by(Credential.id).limit(limit)
    if after is not None:
        query = query.where(Credential.id > after)
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
