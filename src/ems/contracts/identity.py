"""Loopback HTTP shapes between auth, users and devices (never routed by the gateway).

- users -> auth `POST /internal/credentials`: an admin creates a login (`NewCredential`).
- users -> auth `GET /internal/credentials?after=&limit=`: every login (`RegisteredPage`).
- devices -> users `GET /internal/users?after=&limit=`: every profile (`ProfilePage`).
- monitoring -> devices `GET /internal/devices?after=&limit=`: every device (`DevicePage`).
- monitoring -> devices `GET /internal/tariffs?after=&limit=`: every tariff (`TariffPage`).

Every call carries the caller's service token (`X-Service-Token`, see ems.common.credentials).

The snapshots let a service that keeps a copy catch up at start with what was published
before its queue existed (the first admin is created before any other service runs).
Items are the event bodies themselves, so a snapshot item and an event are applied by the
same revision-guarded code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from ems.contracts.events import DeviceUpdated, Role, TariffUpdated, UserRegistered, UserUpdated

Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Password = Annotated[str, Field(min_length=8, max_length=128)]


class NewCredential(BaseModel):
    """A login an admin asked for; the id is chosen by users, the single writer of profiles."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    username: Username
    password: Password
    role: Role
    full_name: Annotated[str, Field(max_length=200)] | None = None
    email: EmailStr | None = None


class RegisteredPage(BaseModel):
    items: list[UserRegistered]
    # Pass as `after` for the next page; None on the last one.
    next_after: uuid.UUID | None = None


class ProfilePage(BaseModel):
    items: list[UserUpdated]
    next_after: uuid.UUID | None = None


class DevicePage(BaseModel):
    items: list[DeviceUpdated]
    next_after: uuid.UUID | None = None


class TariffPage(BaseModel):
    items: list[TariffUpdated]
    next_after: uuid.UUID | None = None


# --- sessions that end: every service keeps a copy of auth's revocations ---------------------
# services -> auth `GET /internal/revocations?since=`: what ended since the cursor
# (`RevocationPage`), polled about every second (see ems.common.revocations).
RevocationReason = Literal["logout", "reuse", "password", "role", "deleted"]


class Revocation(BaseModel):
    """Access tokens that stop working before they expire.

    With a `session_id`: every token of that session (a logout, a stolen refresh token).
    Without: every token of the user whose `ver` claim is below `min_version` (a password or
    role change; a deleted user's `min_version` is above any token's).
    """

    user_id: uuid.UUID
    session_id: uuid.UUID | None = None
    min_version: int | None = None
    reason: RevocationReason
    # After this no token it names can still be unexpired: the entry can be forgotten.
    expires_at: datetime


class RevocationPage(BaseModel):
    items: list[Revocation]
    # Pass back as `since`: the next answer repeats a few seconds before it, so a
    # revocation committed late is never skipped (applying one twice changes nothing).
    cursor: datetime


class ServiceToken(BaseModel):
    """auth's answer to `POST /internal/service-token` (HTTP Basic: service name, secret)."""

    token: str
    expires_in: int
