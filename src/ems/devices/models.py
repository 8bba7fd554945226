"""devicedb: devices and tariffs (this service is their single writer) and a synced copy of
users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ems.common.db import ServiceBase, new_metadata
from ems.common.inbox import processed_events_table
from ems.common.outbox import outbox_table

# A meter's silence limit when none is given: three of the simulator's 10-minute intervals.
DEFAULT_SILENCE_MINUTES = 30


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class Owner(Base):
    """A user as the users service last told us (`user.*` events, or its snapshot).

    Rows are never removed: a deleted user stays as a tombstone with the deletion's
    revision, so that a late `user.updated` cannot bring them back.
    """

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # None only for a tombstone of a user this copy never saw alive.
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    revision: Mapped[int]
    deleted: Mapped[bool] = mapped_column(default=False)
    synced_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Tariff(Base):
    """What energy costs: one price, and bands of the day (owner's local time) that differ.

    `bands` is a list of `{start, end, price_per_kwh}` ("HH:MM", end exclusive), checked on
    the way in (schemas.TariffBand) and always written whole.
    """

    __tablename__ = "tariffs"
    __table_args__ = (CheckConstraint("price_per_kwh >= 0", name="price_not_negative"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    price_per_kwh: Mapped[float]
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint("max_hourly_kwh > 0", name="max_hourly_kwh_positive"),
        CheckConstraint("silence_minutes BETWEEN 1 AND 10080", name="silence_minutes_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    address: Mapped[str | None] = mapped_column(String(255))
    max_hourly_kwh: Mapped[float]
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    # A device's tariff cannot be deleted while it is in use (409, and this key besides).
    tariff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tariffs.id"), index=True)
    # How the meter names itself in readings, when not by the device's id.
    meter_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # None: never counted as silent.
    silence_minutes: Mapped[int | None] = mapped_column(
        default=DEFAULT_SILENCE_MINUTES, server_default=str(DEFAULT_SILENCE_MINUTES)
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Grows with every change; copies (monitoring) apply an event only when it is newer.
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
