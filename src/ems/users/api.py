"""Routes of the users service: thin, each calling one use case of `service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ems.common.credentials import internal_caller
from ems.common.deps import (
    Caller,
    SessionDep,
    UnitOfWorkDep,
    admin_dependency,
    caller_dependency,
    provided,
)
from ems.common.openapi import errors
from ems.common.paging import Paging, Search
from ems.contracts.identity import ProfilePage
from ems.users import service
from ems.users.logins.client import AuthClient
from ems.users.schemas import ProfileUpdate, UserCreate, UserPage, UserRead, UserUpdate

current_caller = caller_dependency(service.role_of)
CallerDep = Annotated[Caller, Depends(current_caller)]
AdminDep = Annotated[Caller, Depends(admin_dependency(current_caller))]
AuthDep = Annotated[AuthClient, Depends(provided(AuthClient))]

router = APIRouter(prefix="/api/users", tags=["users"])
internal = APIRouter(prefix="/internal", include_in_schema=False)
# Services that keep a copy of the profiles and catch up from the snapshot.
PROFILE_READERS = ("devices", "support", "monitoring", "realtime")


@router.get("", response_model=UserPage)
async def read_users(
    admin: AdminDep, session: SessionDep, paging: Paging, q: Search = None
) -> UserPage:
    """Every user, paged, optionally matching `q` in username, name or email (admin)."""
    rows, total = await service.list_users(session, paging, q)
    return UserPage.of(rows, total, paging)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    # 502/503: auth, which keeps the login, failed or could not be reached.
    responses=errors(409, 502, 503),
)
async def create_user(
    body: UserCreate, admin: AdminDep, uow: UnitOfWorkDep, auth: AuthDep
) -> UserRead:
    """Create a user with an initial password and role; they can log in at once (admin)."""
    return UserRead.model_validate(await service.create_user(uow, auth, admin, body))


@router.get("/me", response_model=UserRead)
async def read_me(caller: CallerDep, session: SessionDep) -> UserRead:
    """The caller's own profile."""
    return UserRead.model_validate(await service.read_user(session, caller, caller.user_id))


@router.put("/me", response_model=UserRead, responses=errors(409))
async def replace_me(body: ProfileUpdate, caller: CallerDep, uow: UnitOfWorkDep) -> UserRead:
    """Replace the caller's own name, email and time zone."""
    user = await service.change_user(uow, caller, caller.user_id, body.replacement())
    return UserRead.model_validate(user)


@router.patch("/me", response_model=UserRead, responses=errors(409))
async def update_me(body: ProfileUpdate, caller: CallerDep, uow: UnitOfWorkDep) -> UserRead:
    """Change some of the caller's own name, email and time zone."""
    changes = body.model_dump(exclude_unset=True)
    return UserRead.model_validate(await service.change_user(uow, caller, caller.user_id, changes))


@router.get("/{user_id}", response_model=UserRead, responses=errors(404))
async def read_user(user_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> UserRead:
    """One user (admin: anyone; a client: only themselves)."""
    return UserRead.model_validate(await service.read_user(session, caller, user_id))


@router.put("/{user_id}", response_model=UserRead, responses=errors(403, 404, 409))
async def replace_user(
    user_id: uuid.UUID, body: UserUpdate, caller: CallerDep, uow: UnitOfWorkDep
) -> UserRead:
    """Replace name, email and time zone, and the role when given (admin, or one's own)."""
    user = await service.change_user(uow, caller, user_id, body.replacement())
    return UserRead.model_validate(user)


@router.patch("/{user_id}", response_model=UserRead, responses=errors(403, 404, 409))
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, caller: CallerDep, uow: UnitOfWorkDep
) -> UserRead:
    """Change some of name, email, time zone and role (admin, or one's own but the role)."""
    changes = body.model_dump(exclude_unset=True)
    return UserRead.model_validate(await service.change_user(uow, caller, user_id, changes))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_user(user_id: uuid.UUID, admin: AdminDep, uow: UnitOfWorkDep) -> Response:
    """Delete a user: their login, refresh tokens and devices go too (admin)."""
    await service.delete_user(uow, admin, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal.get(
    "/users", response_model=ProfilePage, dependencies=[internal_caller(*PROFILE_READERS)]
)
async def list_profiles(
    session: SessionDep,
    after: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> ProfilePage:
    """Every profile, for services that keep a copy to catch up from at start."""
    return await service.profiles_page(session, after, limit)
