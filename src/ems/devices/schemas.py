"""Request and response bodies of the devices API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Status = Literal["active", "inactive"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
# A limit of zero or below would make every reading an overconsumption.
Kwh = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False, strict=True)]


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    address: str | None
    max_hourly_kwh: float
    owner_id: uuid.UUID | None
    status: Status
    created_at: datetime
    updated_at: datetime


class DeviceList(BaseModel):
    items: list[DeviceRead]
    total: int
    page: int
    size: int


class DeviceCreate(BaseModel):
    """A new device; also the whole state a PUT replaces."""

    # Unknown fields (`id`, `revision`, a misspelt limit) are refused, never ignored.
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    address: Address | None = None
    max_hourly_kwh: Kwh
    owner_id: uuid.UUID | None = None
    status: Status = "active"


class DeviceChange(BaseModel):
    """Some fields of a device; `owner_id: null` unassigns it."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    address: Address | None = None
    max_hourly_kwh: Kwh | None = None
    owner_id: uuid.UUID | None = None
    status: Status | None = None
