"""What the users service does: each use case opens its own unit of work.

Every change of a profile is written with its event (`user.created/updated/deleted`, the
whole state and a revision) in one transaction; the outbox relay publishes it.

An admin creating a user: auth holds the password, so the login is created there first
(credential + `auth.user_registered` in one transaction), then the profile here; if this
process dies in between, the event writes it instead. Both paths go through
`apply_registration`, which creates it once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.deps import Caller, account_gone
from ems.common.errors import conflict, forbidden, invalid, not_found, refuse_nulls
from ems.common.outbox import add_event
from ems.common.paging import PageParams, contains, page_of
from ems.common.timezones import DEFAULT_TIME_ZONE
from ems.common.unit_of_work import UnitOfWork
from ems.contracts.events import UserCreated, UserDeleted, UserRegistered, UserUpdated
from ems.contracts.identity import NewCredential, ProfilePage
from ems.users.logins.client import AuthClient
from ems.users.models import DeletedUser, User, outbox
from ems.users.schemas import UserCreate

log = logging.getLogger(__name__)


async def role_of(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    """The role a profile has now; None before its registration arrived; 401 once deleted."""
    role = await session.scalar(select(User.role).where(User.id == user_id))
    if role is None and await session.get(DeletedUser, user_id) is not None:
        raise account_gone()
    return role


async def list_users(
    session: AsyncSession, paging: PageParams, q: str | None
) -> tuple[list[User], int]:
    query = select(User)
    if q:
        query = query.where(contains(q, User.username, User.full_name, User.email))
    return await page_of(session, query, paging, User.username)


async def read_user(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> User:
    """A profile the caller may see: anyone's for an admin, else only their own."""
    user = await session.get(User, user_id) if _may_see(caller, user_id) else None
    if user is None:
        raise not_found("user")
    return user


async def create_user(uow: UnitOfWork, auth: AuthClient, caller: Caller, body: UserCreate) -> User:
    """A login in auth (on the admin's own token), then its profile with the admin's fields."""
    async with uow.reads() as session:
        await ensure_available(session, body.username, body.email)
    login = NewCredential(id=uuid.uuid4(), **body.model_dump(exclude={"time_zone"}))
    registered = await auth.create_credential(caller.token, login)
    async with uow.transaction() as session:
        user, created = await apply_registration(session, registered, body.time_zone)
        if user is None:  # deleted by another admin in the meantime
            raise not_found("user")
        if not created:  # the event got here first, with the default zone
            await _apply(session, user, {"time_zone": body.time_zone})
    return user


async def apply_registration(
    session: AsyncSession, event: UserRegistered, time_zone: str = DEFAULT_TIME_ZONE
) -> tuple[User | None, bool]:
    """The profile of a new login, created once whichever path gets here first (the
    `auth.user_registered` event, the admin's own request, the start-up snapshot).

    Returns the profile (None for a deleted user) and whether this call created it.
    """
    if await session.get(DeletedUser, event.id) is not None:
        return None, False
    email = normal_email(event.email)
    if email is not None and await _email_holder(session, email, event.id) is not None:
        # auth refuses emails it knows are taken; this is the rare race it cannot see.
        # The account must exist all the same: it keeps no email and can set one itself.
        log.warning(
            "registered email already taken; profile keeps none", extra={"id": str(event.id)}
        )
        email = None
    values = {
        "id": event.id,
        "username": event.username.lower(),
        "email": email,
        "full_name": event.full_name or None,
        "role": event.role,
        "time_zone": time_zone,
        "revision": 1,
    }
    statement = insert(User).on_conflict_do_nothing(index_elements=[User.id]).returning(User.id)
    try:
        async with session.begin_nested():
            created = await session.scalar(statement.values(**values))
    except IntegrityError:
        # A concurrent commit took the email between the check above and the insert.
        log.warning(
            "registered email already taken; profile keeps none", extra={"id": str(event.id)}
        )
        created = await session.scalar(statement.values(**{**values, "email": None}))
    user = await session.get(User, event.id)
    if created is not None and user is not None:
        await add_event(session, outbox, UserCreated.model_validate(user, from_attributes=True))
    return user, created is not None


async def ensure_available(session: AsyncSession, username: str, email: str | None) -> None:
    """409 before a login is even asked for, when the name or email is taken here."""
    if await session.scalar(select(User.id).where(User.username == username.lower())):
        raise conflict("username is already taken", {"field": "username"})
    email = normal_email(email)
    if email is not None and await _email_holder(session, email, None) is not None:
        raise conflict("email is already taken", {"field": "email"})


async def change_user(
    uow: UnitOfWork, caller: Caller, user_id: uuid.UUID, changes: Mapping[str, Any]
) -> User:
    """Apply `changes` (full_name, email, time_zone, role) to a profile, with `user.updated`.

    Clients may change their own name, email and zone only; nobody changes their own role.
    """
    if not _may_see(caller, user_id):
        raise not_found("user")
    if "role" in changes and not caller.is_admin:
        raise invalid("role", "the role cannot be changed here")
    async with uow.transaction() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise not_found("user")
        refuse_nulls(changes, "role")
        values = dict(changes)
        if user_id == caller.user_id and values.get("role", user.role) != user.role:
            raise forbidden("admins cannot change their own role")
        if "email" in values:
            values["email"] = normal_email(values["email"])
            if values["email"] is not None and await _email_holder(
                session, values["email"], user_id
            ):
                raise conflict("email is already taken", {"field": "email"})
        if "full_name" in values:
            values["full_name"] = values["full_name"] or None
        await _apply(session, user, values)
    return user


async def delete_user(uow: UnitOfWork, caller: Caller, user_id: uuid.UUID) -> None:
    """Delete a profile, leaving a tombstone; `user.deleted` makes auth end the login and
    devices delete the user's devices."""
    if not caller.is_admin:
        raise forbidden("admin role required")
    if user_id == caller.user_id:
        raise forbidden("admins cannot delete their own account")
    async with uow.transaction() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise not_found("user")
        revision = user.revision + 1
        await session.delete(user)
        session.add(DeletedUser(id=user_id, revision=revision))
        await add_event(session, outbox, UserDeleted(id=user_id, revision=revision))


async def profiles_page(session: AsyncSession, after: uuid.UUID | None, limit: int) -> ProfilePage:
    """Every profile in id order, as `user.updated` bodies (the snapshot copies start from)."""
    query = select(User).order_by(User.id).limit(limit)
    if after is not None:
        query = query.where(User.id > after)
    rows = list(await session.scalars(query))
    return ProfilePage(
        items=[UserUpdated.model_validate(u, from_attributes=True) for u in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


def normal_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


async def _apply(session: AsyncSession, user: User, values: Mapping[str, Any]) -> None:
    """Write what changed, with a new revision and `user.updated`; no change, no event."""
    if all(getattr(user, key) == value for key, value in values.items()):
        return
    for key, value in values.items():
        setattr(user, key, value)
    user.revision += 1
    await session.flush()
    await session.refresh(user)
    await add_event(session, outbox, UserUpdated.model_validate(user, from_attributes=True))


def _may_see(caller: Caller, user_id: uuid.UUID) -> bool:
    return caller.is_admin or caller.user_id == user_id


async def _email_holder(
    session: AsyncSession, email: str, other_than: uuid.UUID | None
) -> uuid.UUID | None:
    query = select(User.id).where(User.email == email)
    if other_than is not None:
        query = query.where(User.id != other_than)
    return await session.scalar(query)
