"""Events on `ems.sync`: the only types services share about each other's state.

Every event travels in an `Envelope` (unique `event_id` so consumers drop repeats, `type`
equal to its routing key, time and schema version); its `data` is one of the bodies below.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["ADMIN", "CLIENT"]


class EventBody(BaseModel):
    """Base of every event body; `routing_key` names it on the exchange."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    routing_key: ClassVar[str]


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    version: int = 1
    data: dict[str, object]

    @classmethod
    def wrap(cls, body: EventBody) -> Envelope:
        return cls(type=body.routing_key, data=body.model_dump(mode="json"))


class UserRegistered(EventBody):
    """Auth created a login (self-registration, an admin's request or `create-admin`)."""

    routing_key: ClassVar[str] = "auth.user_registered"
    id: uuid.UUID
    username: str
    role: Role
    full_name: str | None = None
    email: str | None = None


class CredentialRemoved(EventBody):
    """Auth deleted a login and revoked its refresh tokens."""

    routing_key: ClassVar[str] = "auth.credential_removed"
    id: uuid.UUID


# --- users service: profiles and roles (ems.sync, `user.*`) -------------------------------
# `revision` grows with every change of one entity: a consumer applies an event only when it
# is newer than its copy, so repeats and out-of-order deliveries leave the copy correct.


class UserCreated(EventBody):
    routing_key: ClassVar[str] = "user.created"
    id: uuid.UUID
    username: str
    role: Role
    full_name: str | None = None
    email: str | None = None
    revision: int = 1


class UserUpdated(EventBody):
    """The user's whole current state (not a diff)."""

    routing_key: ClassVar[str] = "user.updated"
    id: uuid.UUID
    username: str
    role: Role
    full_name: str | None = None
    email: str | None = None
    revision: int


class UserDeleted(EventBody):
    routing_key: ClassVar[str] = "user.deleted"
    id: uuid.UUID
    revision: int


# --- devices service (ems.sync, `device.*`) ------------------------------------------------


class DeviceCreated(EventBody):
    routing_key: ClassVar[str] = "device.created"
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None = None
    max_hourly_kwh: float
    revision: int = 1


class DeviceUpdated(EventBody):
    """The device's whole current state, including owner and limit changes."""

    routing_key: ClassVar[str] = "device.updated"
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None = None
    max_hourly_kwh: float
    revision: int


class DeviceDeleted(EventBody):
    routing_key: ClassVar[str] = "device.deleted"
    id: uuid.UUID
    owner_id: uuid.UUID | None = None
    revision: int
