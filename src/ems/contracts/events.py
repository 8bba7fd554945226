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
    # IANA name; events from before profiles had zones carry none: UTC.
    time_zone: str = "UTC"
    revision: int = 1


class UserUpdated(EventBody):
    """The user's whole current state (not a diff)."""

    routing_key: ClassVar[str] = "user.updated"
    id: uuid.UUID
    username: str
    role: Role
    full_name: str | None = None
    email: str | None = None
    time_zone: str = "UTC"
    revision: int


class UserDeleted(EventBody):
    routing_key: ClassVar[str] = "user.deleted"
    id: uuid.UUID
    revision: int


# --- devices service (ems.sync, `device.*` and `tariff.*`) ---------------------------------
# Fields added later have defaults, so that events published before them still parse: no
# tariff, no meter id, and the default silence of 30 minutes.


class DeviceCreated(EventBody):
    routing_key: ClassVar[str] = "device.created"
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None = None
    max_hourly_kwh: float
    tariff_id: uuid.UUID | None = None
    # How the meter names itself in readings (`device_id`), when not by this id.
    meter_id: str | None = None
    # Minutes without a reading after which the meter counts as silent; None: never.
    silence_minutes: int | None = 30
    revision: int = 1


class DeviceUpdated(EventBody):
    """The device's whole current state, including owner, limit and tariff changes."""

    routing_key: ClassVar[str] = "device.updated"
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None = None
    max_hourly_kwh: float
    tariff_id: uuid.UUID | None = None
    meter_id: str | None = None
    silence_minutes: int | None = 30
    revision: int


class DeviceDeleted(EventBody):
    routing_key: ClassVar[str] = "device.deleted"
    id: uuid.UUID
    owner_id: uuid.UUID | None = None
    revision: int


class TariffBand(BaseModel):
    """A price for part of the day, in the device owner's local time: from `start` (HH:MM)
    up to but not including `end`; `start` after `end` wraps midnight (22:00-06:00)."""

    model_config = ConfigDict(frozen=True)

    start: str
    end: str
    price_per_kwh: float


class TariffCreated(EventBody):
    routing_key: ClassVar[str] = "tariff.created"
    id: uuid.UUID
    name: str
    # ISO 4217 code of the prices.
    currency: str
    # The price outside every band.
    price_per_kwh: float
    bands: list[TariffBand] = []
    revision: int = 1


class TariffUpdated(EventBody):
    """The tariff's whole current state (not a diff)."""

    routing_key: ClassVar[str] = "tariff.updated"
    id: uuid.UUID
    name: str
    currency: str
    price_per_kwh: float
    bands: list[TariffBand] = []
    revision: int


class TariffDeleted(EventBody):
    """Only a tariff no device uses is deleted."""

    routing_key: ClassVar[str] = "tariff.deleted"
    id: uuid.UUID
    revision: int
