"""Request and response bodies of the users API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from ems.contracts.identity import Password, Username

Role = Literal["ADMIN", "CLIENT"]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    role: Role
    full_name: str | None
    email: str | None
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    items: list[UserRead]
    total: int
    page: int
    size: int


class UserCreate(BaseModel):
    # Unknown fields (an `id`, say) are refused, not ignored: an admin's typo must not
    # silently create a different user than the one asked for.
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    role: Role
    full_name: FullName | None = None
    email: EmailStr | None = None


class ProfileChange(BaseModel):
    """What a user may change about themselves."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    email: EmailStr | None = None


class UserChange(ProfileChange):
    """What an admin may change about anyone (a client sending `role` is refused)."""

    role: Role | None = Field(default=None, description="admins only; never one's own")
