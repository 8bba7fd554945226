"""Request and response bodies of the auth API."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

# The same rules for a login whether its owner registers or an admin creates it.
from ems.contracts.identity import Password, Username


class RegisterRequest(BaseModel):
    # Unknown fields (a `role`, an `id`) are ignored: self-registration always makes a CLIENT.
    model_config = ConfigDict(extra="ignore")

    username: Username
    password: Password
    full_name: Annotated[str, Field(max_length=200)] | None = None
    email: EmailStr | None = None


class LoginRequest(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class UserRef(BaseModel):
    id: uuid.UUID
    username: str
    role: Literal["ADMIN", "CLIENT"]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    user: UserRef


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password
