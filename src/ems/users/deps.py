"""Who is calling: a verified token, and the role the profile has now.

The role is read here on every request rather than taken from the token, so that a role
change (or a deletion) takes effect on the caller's next request, not at token expiry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ems.common.db import Database
from ems.common.errors import forbidden, unauthorized
from ems.common.openapi import raises
from ems.common.security import CurrentUser, bearer_token
from ems.users.models import DeletedUser, User
from ems.users.service import Caller


def read_sessions(db: Database) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads in autocommit: no BEGIN/ROLLBACK round trips (writes open a
    transaction of their own with `Database.transaction`)."""
    return async_sessionmaker(
        db.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request for the caller's lookup and the route's reads."""
    reads: async_sessionmaker[AsyncSession] = request.app.state.reads
    async with reads() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(request_session)]


async def current_caller(principal: CurrentUser, request: Request, session: SessionDep) -> Caller:
    role = await session.scalar(select(User.role).where(User.id == principal.user_id))
    if role is None and await session.get(DeletedUser, principal.user_id) is not None:
        raise unauthorized("account no longer exists")
    # No profile yet: the registration event is still on its way; the fresh token's
    # role is the one auth gave the new login.
    return Caller(principal.user_id, role or principal.role, bearer_token(request) or "")


@raises(403)
async def admin_caller(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if not caller.is_admin:
        raise forbidden("admin role required")
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
AdminDep = Annotated[Caller, Depends(admin_caller)]
