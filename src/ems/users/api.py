"""Routes of the users service: thin, each calling one function of `service`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from ems.common.credentials import internal_caller
from ems.common.db import Database
from ems.common.openapi import errors
from ems.common.outbox import OutboxRelay
from ems.common.paging import Paging
from ems.contracts.identity import ProfilePage
from ems.users import accounts, service
from ems.users.auth_client import AuthClient
from ems.users.deps import AdminDep, CallerDep, SessionDep
from ems.users.schemas import ProfileChange, UserChange, UserCreate, UserPage, UserRead
from ems.users.service import Caller


class UsersDeps:
    """What the routes need, taken from the running app."""

    def __init__(self, request: Request) -> None:
        self.db: Database = request.app.state.runtime.db
        self.relay: OutboxRelay = request.app.state.relay
        self.auth: AuthClient = request.app.state.auth_client


Deps = Annotated[UsersDeps, Depends()]

router = APIRouter(prefix="/api/users", tags=["users"])
internal = APIRouter(prefix="/internal", include_in_schema=False)
# Services that keep a copy of the profiles and catch up from the snapshot.
PROFILE_READERS = ("devices", "support", "monitoring", "realtime")


@router.get("", response_model=UserPage)
async def read_users(
    admin: AdminDep,
    session: SessionDep,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> UserPage:
    """Every user, paged, optionally matching `q` in username, name or email (admin)."""
    rows, total = await service.list_users(session, paging.page, paging.size, q)
    items = [UserRead.model_validate(u) for u in rows]
    return UserPage(items=items, total=total, page=paging.page, size=paging.size)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    # 502/503: auth, which keeps the login, failed or could not be reached.
    responses=errors(409, 502, 503),
)
async def create_user(body: UserCreate, admin: AdminDep, deps: Deps) -> UserRead:
    """Create a user with an initial password and role; they can log in at once (admin)."""
    user = await accounts.create_user(deps.db, deps.auth, admin, body)
    deps.relay.notify()
    return UserRead.model_validate(user)


@router.get("/me", response_model=UserRead)
async def read_me(caller: CallerDep, session: SessionDep) -> UserRead:
    """The caller's own profile."""
    return UserRead.model_validate(await service.read_user(session, caller, caller.user_id))


@router.put("/me", response_model=UserRead, responses=errors(409))
async def replace_me(body: ProfileChange, caller: CallerDep, deps: Deps) -> UserRead:
    """Replace the caller's own name and email."""
    return await _change(deps, caller, caller.user_id, _replacement(body))


@router.patch("/me", response_model=UserRead, responses=errors(409))
async def update_me(body: ProfileChange, caller: CallerDep, deps: Deps) -> UserRead:
    """Change some of the caller's own name and email."""
    return await _change(deps, caller, caller.user_id, body.model_dump(exclude_unset=True))


@router.get("/{user_id}", response_model=UserRead, responses=errors(404))
async def read_user(user_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> UserRead:
    """One user (admin: anyone; a client: only themselves)."""
    return UserRead.model_validate(await service.read_user(session, caller, user_id))


@router.put("/{user_id}", response_model=UserRead, responses=errors(403, 404, 409))
async def replace_user(
    user_id: uuid.UUID, body: UserChange, caller: CallerDep, deps: Deps
) -> UserRead:
    """Replace name and email, and the role when given (admin, or a user's own profile)."""
    return await _change(deps, caller, user_id, _replacement(body))


@router.patch("/{user_id}", response_model=UserRead, responses=errors(403, 404, 409))
async def update_user(
    user_id: uuid.UUID, body: UserChange, caller: CallerDep, deps: Deps
) -> UserRead:
    """Change some of name, email and role (admin, or a user's own name and email)."""
    return await _change(deps, caller, user_id, body.model_dump(exclude_unset=True))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_user(user_id: uuid.UUID, admin: AdminDep, deps: Deps) -> Response:
    """Delete a user: their login, refresh tokens and devices go too (admin)."""
    async with deps.db.transaction() as session:
        await service.delete_user(session, admin, user_id)
    deps.relay.notify()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal.get(
    "/users", response_model=ProfilePage, dependencies=[internal_caller(*PROFILE_READERS)]
)
async def list_profiles(
    deps: Deps,
    after: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> ProfilePage:
    """Every profile, for services that keep a copy to catch up from at start."""
    async with deps.db.sessions() as session:
        return await service.profiles_page(session, after, limit)


async def _change(
    deps: UsersDeps, caller: Caller, user_id: uuid.UUID, changes: dict[str, Any]
) -> UserRead:
    async with deps.db.transaction() as session:
        user = await service.change_user(session, caller, user_id, changes)
        read = UserRead.model_validate(user)
    deps.relay.notify()
    return read


def _replacement(body: ProfileChange) -> dict[str, Any]:
    """PUT: name and email are replaced (absent means none); a role only when given."""
    changes: dict[str, Any] = {"full_name": body.full_name, "email": body.email}
    if "role" in body.model_fields_set:
        changes["role"] = getattr(body, "role", None)
    return changes
