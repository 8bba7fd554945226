"""monitoringdb: the synced copy of devices, raw readings, hourly figures and alerts.

Energy is stored as whole micro-kWh (BIGINT, 1 micro-kWh = 1 mWh): sums are exact integer
arithmetic, never float.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ems.common.db import ServiceBase, new_metadata
from ems.common.inbox import processed_events_table
from ems.common.outbox import outbox_table


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
    revision: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


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
    received_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class Alert(Base):
    """An overconsumption alert; the unique key makes it one per device, hour and kind even
    when replicas race."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("device_id", "hour", "kind", name="uq_alerts_device_hour_kind"),
        Index("ix_alerts_device_created", "device_id", "created_at"),
        Index("ix_alerts_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID]
    hour: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    micro_kwh: Mapped[int] = mapped_column(BigInteger)
    limit_micro_kwh: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
