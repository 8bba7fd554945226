"""Request and response bodies of the devices API: devices and tariffs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from ems.common.paging import Page
from ems.contracts.readings import METER_ID_PATTERN
from ems.devices.models import DEFAULT_SILENCE_MINUTES

Status = Literal["active", "inactive"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
# A limit of zero or below would make every reading an overconsumption.
Kwh = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False, strict=True)]


def _pattern(regex: str, message: str) -> Callable[[str], str]:
    """A check of `regex` that says what is wanted in words (pydantic's says the regex)."""

    def check(text: str) -> str:
        if not re.fullmatch(regex, text):
            raise ValueError(message)
        return text

    return check


MeterId = Annotated[
    str,
    Field(json_schema_extra={"pattern": METER_ID_PATTERN, "examples": ["7"]}),
    AfterValidator(_pattern(METER_ID_PATTERN, "use 1 to 64 letters, digits, '-' or '_'")),
]
SilenceMinutes = Annotated[int, Field(ge=1, le=10080, strict=True, description="1 to 7 days")]


# --- devices -------------------------------------------------------------------------------


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    address: str | None
    max_hourly_kwh: float
    owner_id: uuid.UUID | None
    tariff_id: uuid.UUID | None
    meter_id: str | None
    silence_minutes: int | None
    status: Status
    created_at: datetime
    updated_at: datetime


class DevicePage(Page[DeviceRead]):
    pass


class DeviceCreate(BaseModel):
    """A new device; also the whole state a PUT replaces."""

    # Unknown fields (`id`, `revision`, a misspelt limit) are refused, never ignored.
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    address: Address | None = None
    max_hourly_kwh: Kwh
    owner_id: uuid.UUID | None = None
    tariff_id: uuid.UUID | None = None
    meter_id: MeterId | None = Field(default=None, description="unique; how readings name it")
    silence_minutes: SilenceMinutes | None = Field(
        default=DEFAULT_SILENCE_MINUTES, description="null: never counted as silent"
    )
    status: Status = "active"


class DeviceUpdate(BaseModel):
    """Some fields of a device; `owner_id: null` unassigns it, `tariff_id`, `meter_id` and
    `silence_minutes` null clear them."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    address: Address | None = None
    max_hourly_kwh: Kwh | None = None
    owner_id: uuid.UUID | None = None
    tariff_id: uuid.UUID | None = None
    meter_id: MeterId | None = None
    silence_minutes: SilenceMinutes | None = None
    status: Status | None = None


# --- tariffs -------------------------------------------------------------------------------

DAY_MINUTES = 24 * 60


def _at_most_six_decimals(price: float) -> float:
    exponent = Decimal(repr(price)).as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise ValueError("a price has at most 6 decimals")
    return price


Price = Annotated[
    float,
    Field(ge=0, le=1_000_000, allow_inf_nan=False, strict=True, description="per kWh"),
    AfterValidator(_at_most_six_decimals),
]
CURRENCY = r"^[A-Z]{3}$"
Currency = Annotated[
    str,
    Field(json_schema_extra={"pattern": CURRENCY, "examples": ["RON"]}, description="ISO 4217"),
    AfterValidator(_pattern(CURRENCY, "use a three-letter ISO 4217 code such as RON")),
]
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Clock = Annotated[
    str,
    Field(json_schema_extra={"pattern": CLOCK, "examples": ["22:00"]}),
    AfterValidator(_pattern(CLOCK, "use HH:MM, from 00:00 to 23:59")),
]


class TariffBand(BaseModel):
    """A price from `start` up to but not including `end` (HH:MM, the owner's local time);
    `start` after `end` wraps midnight (22:00-06:00)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    start: Clock
    end: Clock
    price_per_kwh: Price

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("a band's start and end must differ")
        return self

    def spans(self) -> list[tuple[int, int]]:
        """The minutes of the day it covers, as [from, to) ranges (two when it wraps)."""
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return [(start, end)]
        return [(start, DAY_MINUTES), (0, end)]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _no_overlaps(bands: list[TariffBand]) -> list[TariffBand]:
    for j, later in enumerate(bands):
        for i, earlier in enumerate(bands[:j]):
            if any(a < d and c < b for a, b in earlier.spans() for c, d in later.spans()):
                raise ValueError(
                    f"band {j + 1} ({later.start}-{later.end}) overlaps"
                    f" band {i + 1} ({earlier.start}-{earlier.end})"
                )
    return bands


Bands = Annotated[
    list[TariffBand],
    Field(max_length=24, description="no two overlap; outside them price_per_kwh applies"),
    AfterValidator(_no_overlaps),
]


class TariffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    currency: str
    price_per_kwh: float
    bands: list[TariffBand]
    created_at: datetime
    updated_at: datetime


class TariffPage(Page[TariffRead]):
    pass


class TariffCreate(BaseModel):
    """A new tariff; also the whole state a PUT replaces."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    currency: Currency
    price_per_kwh: Price
    bands: Bands = []


class TariffUpdate(BaseModel):
    """Some fields of a tariff; `bands` are replaced as a whole (`[]`: none)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    currency: Currency | None = None
    price_per_kwh: Price | None = None
    bands: Bands | None = None
