"""Request and response bodies of the users API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from ems.common.paging import Page
from ems.common.timezones import DEFAULT_TIME_ZONE, TimeZone
from ems.contracts.identity import Password, Username

Role = Literal["ADMIN", "CLIENT"]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
ZoneField = Field(
    default=DEFAULT_TIME_ZONE, description="IANA time zone of the user's days and hours"
)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    role: Role
    full_name: str | None
    email: str | None
    time_zone: str
    created_at: datetime
    updated_at: datetime


class UserPage(Page[UserRead]):
    pass


class UserCreate(BaseModel):
    # Unknown fields (an `id`, say) are refused, not ignored: an admin's typo must not
    # silently create a different user than the one asked for.
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    role: Role
    full_name: FullName | None = None
    email: EmailStr | None = None
    time_zone: TimeZone = ZoneField


class ProfileUpdate(BaseModel):
    """What a user may change about themselves (a PUT replaces all of it: what is left out
    is cleared, and the zone goes back to UTC)."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    email: EmailStr | None = None
    time_zone: TimeZone = ZoneField

    def replacement(self) -> dict[str, Any]:
        """A PUT's changes: every profile field (left out: none, or UTC); a role only when
        one was given."""
        changes = self.model_dump(include={"full_name", "email", "time_zone"})
        if "role" in self.model_fields_set:
            changes["role"] = getattr(self, "role", None)
        return changes


class UserUpdate(ProfileUpdate):
    """What an admin may change about anyone (a client sending `role` is refused)."""

    role: Role | None = Field(default=None, description="admins only; never one's own")
