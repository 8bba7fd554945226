"""userdb: profiles and roles (this service is their single writer), and tombstones."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from ems.common.db import ServiceBase, new_metadata
from ems.common.inbox import processed_events_table
from ems.common.outbox import outbox_table
from ems.common.sync import DeletedUserColumns
from ems.common.timezones import DEFAULT_TIME_ZONE


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class User(Base):
    """A user's profile. The id is the login's id in auth; the username is copied from it
    and never changes."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # Lower-cased; unique here, which is the one place that decides.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # IANA name: the zone their days, hours and tariff bands are in.
    time_zone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIME_ZONE, server_default=DEFAULT_TIME_ZONE
    )
    # Grows with every change; copies apply an event only when it is newer than theirs.
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class DeletedUser(DeletedUserColumns, Base):
    """A deleted user's id: a late or repeated registration event must not bring it back."""


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
