"""monitoringdb: the synced copies of devices, users and tariffs, who owned each device
when, raw readings, hourly figures and alerts.

Energy is stored as whole micro-kWh (BIGINT, 1 micro-kWh = 1 mWh): sums are exact integer
arithmetic, never float.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ems.common.db import ServiceBase, new_metadata
from ems.common.inbox import processed_events_table
from ems.common.outbox import outbox_table

# Energy is stored as integer micro-kWh (and cost as micro-units of the currency): exact sums.
MICRO = 1_000_000


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class Device(Base):
    """What monitoring knows of a device, from `device.*` events (a deleted one stays as a
    tombstone so that late events about it change nothing)."""

    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    max_hourly_micro_kwh: Mapped[int] = mapped_column(BigInteger)
    tariff_id: Mapped[uuid.UUID | None]
    # How the meter names itself in readings, when not by `id`.
    meter_id: Mapped[str | None] = mapped_column(String(64))
    # Minutes without a reading after which the meter is silent; None: never.
    silence_minutes: Mapped[int | None]
    revision: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DeviceOwner(Base):
    """Who owned a device when, from `device.*` events (boundaries are the events'
    `occurred_at`). `since` NULL: from the beginning (the device's first owner); `until`
    NULL: the current owner. A client sees only hours of their current period (the view
    `current_owners` gives its first visible hour, see docs/operations.md)."""

    __tablename__ = "device_owners"
    __table_args__ = (
        Index(
            "uq_device_owners_current",
            "device_id",
            unique=True,
            postgresql_where=text("until IS NULL"),
        ),
        Index("ix_device_owners_owner_current", "owner_id", postgresql_where=text("until IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    device_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    since: Mapped[datetime | None]
    until: Mapped[datetime | None]


class User(Base):
    """What monitoring knows of a user, from `user.*` events and users' snapshot: the role
    it trusts (not the token's) and the zone figures are shown in."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    time_zone: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Tariff(Base):
    """A tariff, from `tariff.*` events and devices' snapshot (a deleted one a tombstone)."""

    __tablename__ = "tariffs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(8))
    price_per_kwh: Mapped[Decimal] = mapped_column(Numeric)
    revision: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TariffBand(Base):
    """A tariff's price for part of the day in the owner's local time, as minutes of the
    day: [start_minute, end_minute), wrapping midnight when start > end."""

    __tablename__ = "tariff_bands"

    tariff_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    price_per_kwh: Mapped[Decimal] = mapped_column(Numeric)


class Reading(Base):
    """One meter reading, stored once: a repeat of (device, timestamp) is dropped.

    Range-partitioned by day on `ts` (partitions are made and dropped at run time, see
    partitions.py)."""

    __tablename__ = "readings"
    __table_args__ = {"postgresql_partition_by": "RANGE (ts)"}

    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    micro_kwh: Mapped[int] = mapped_column(BigInteger)


class HourlyConsumption(Base):
    """kWh of a device in one UTC hour: the sum of its distinct readings in that hour."""

    __tablename__ = "hourly_consumption"
    # An admin's fleet day reads by hour across devices (the key leads with the device).
    __table_args__ = (Index("ix_hourly_consumption_hour", "hour"),)

    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    micro_kwh: Mapped[int] = mapped_column(BigInteger)
    readings: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UnmatchedReading(Base):
    """A reading of a device monitoring does not know (yet): kept aside, with the reason,
    until the device's `device.created` arrives, then counted like any other."""

    __tablename__ = "unmatched_readings"

    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    micro_kwh: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    # The meter id the reading named its device by (`device_id` is then its stand-in key,
    # parsing.meter_key): a device that takes this `meter_id` adopts the reading.
    meter_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class Alert(Base):
    """An alert: overconsumption in an hour (`hourly`, `reading`) or a silent meter
    (`silent`, `hour` being when the silence began). The unique key makes it one per device,
    hour and kind even when replicas race; the partial one, one open silent episode per
    device."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("device_id", "hour", "kind", name="uq_alerts_device_hour_kind"),
        Index("ix_alerts_device_created", "device_id", "created_at"),
        Index("ix_alerts_created", "created_at"),
        Index(
            "uq_alerts_open_silence",
            "device_id",
            unique=True,
            postgresql_where=text("kind = 'silent' AND ended_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID]
    hour: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    # Overconsumption: the figure and the limit it went over; None for a silent meter.
    micro_kwh: Mapped[int | None] = mapped_column(BigInteger)
    limit_micro_kwh: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Silent meters: the last reading before the silence (None: never sent), the device's
    # silence setting then, and when the next reading ended the episode.
    last_seen_at: Mapped[datetime | None]
    silence_minutes: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None]


class AlertReadMark(Base):
    """That a user has read an alert (read state is the server's, the same in every tab)."""

    __tablename__ = "alert_reads"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    read_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DeviceSeen(Base):
    """When a device's latest reading arrived (any replica, written once per batch), and
    since when it is watched for silence (for a device that never sent)."""

    __tablename__ = "device_seen"

    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_seen_at: Mapped[datetime | None]
    watch_from: Mapped[datetime] = mapped_column(server_default=func.now())


class IngestRate(Base):
    """Readings each replica received in each second (kept minutes): the overview's
    readings per second, the same whichever replica answers."""

    __tablename__ = "ingest_rates"

    second: Mapped[datetime] = mapped_column(primary_key=True)
    replica: Mapped[str] = mapped_column(String(64), primary_key=True)
    readings: Mapped[int] = mapped_column(Integer)


class AlertDigest(Base):
    """One admin digest per window: the replica that inserts the window's row sends it."""

    __tablename__ = "alert_digests"

    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    alerts: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(server_default=func.now())


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
