"""What the users service does, as plain async functions over a session.

Every change of a profile is written with its event (`user.created/updated/deleted`, the
whole state and a revision) in one transaction; the outbox relay publishes it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.errors import ApiError, conflict, forbidden, not_found
from ems.common.outbox import add_event
from ems.contracts.events import UserCreated, UserDeleted, UserRegistered, UserUpdated
from ems.contracts.identity import ProfilePage
from ems.users.models import DeletedUser, User, outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is asking, with the role this service holds for them now (not the token's)."""

    user_id: uuid.UUID
    role: str
    token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


async def apply_registration(
    session: AsyncSession, event: UserRegistered
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
        await add_event(session, outbox, UserCreated(**_state(user)))
    return user, created is not None


async def list_users(
    session: AsyncSession, page: int, size: int, q: str | None
) -> tuple[list[User], int]:
    query = select(User)
    if q:
        pattern = f"%{_escape_like(q.strip())}%"
        query = query.where(
            or_(
                User.username.ilike(pattern, escape="\\"),
                User.full_name.ilike(pattern, escape="\\"),
                User.email.ilike(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(User.username).offset((page - 1) * size).limit(size)
    )
    return list(rows), int(total or 0)


async def read_user(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> User:
    """A profile the caller may see: anyone's for an admin, else only their own."""
    user = await session.get(User, user_id) if _may_see(caller, user_id) else None
    if user is None:
        raise not_found("user")
    return user


async def ensure_available(session: AsyncSession, username: str, email: str | None) -> None:
    """409 before a login is even asked for, when the name or email is taken here."""
    if await session.scalar(select(User.id).where(User.username == username.lower())):
        raise conflict("username is already taken", {"field": "username"})
    email = normal_email(email)
    if email is not None and await _email_holder(session, email, None) is not None:
        raise conflict("email is already taken", {"field": "email"})


async def change_user(
    session: AsyncSession, caller: Caller, user_id: uuid.UUID, changes: Mapping[str, Any]
) -> User:
    """Apply `changes` (full_name, email, role) to a profile, with its `user.updated`.

    Clients may change their own name and email only; nobody changes their own role.
    """
    if not _may_see(caller, user_id):
        raise not_found("user")
    if "role" in changes and not caller.is_admin:
        raise ApiError(
            422, "validation_error", "the role cannot be changed here", [{"loc": ["body", "role"]}]
        )
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise not_found("user")
    values = dict(changes)
    if "role" in values:
        if values["role"] is None:
            raise ApiError(
                422, "validation_error", "role cannot be null", [{"loc": ["body", "role"]}]
            )
        if user_id == caller.user_id and values["role"] != user.role:
            raise forbidden("admins cannot change their own role")
    if "email" in values:
        values["email"] = normal_email(values["email"])
        if values["email"] is not None and await _email_holder(session, values["email"], user_id):
            raise conflict("email is already taken", {"field": "email"})
    if "full_name" in values:
        values["full_name"] = values["full_name"] or None
    if all(getattr(user, key) == value for key, value in values.items()):
        return user  # nothing changed: no revision, no event
    for key, value in values.items():
        setattr(user, key, value)
    user.revision += 1
    await session.flush()
    await session.refresh(user)
    await add_event(session, outbox, UserUpdated(**_state(user)))
    return user


async def delete_user(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> None:
    """Delete a profile, leaving a tombstone; `user.deleted` makes auth end the login and
    devices delete the user's devices."""
    if not caller.is_admin:
        raise forbidden("admin role required")
    if user_id == caller.user_id:
        raise forbidden("admins cannot delete their own account")
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
        items=[UserUpdated(**_state(u)) for u in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


def normal_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def _may_see(caller: Caller, user_id: uuid.UUID) -> bool:
    return caller.is_admin or caller.user_id == user_id


async def _email_holder(
    session: AsyncSession, email: str, other_than: uuid.UUID | None
) -> uuid.UUID | None:
    query = select(User.id).where(User.email == email)
    if other_than is not None:
        query = query.where(User.id != other_than)
    return await session.scalar(query)


def _state(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "full_name": user.full_name,
        "email": user.email,
        "revision": user.revision,
    }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
