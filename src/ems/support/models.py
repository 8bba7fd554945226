"""supportdb: one conversation per client, its messages, and the users that were deleted."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from ems.common.db import ServiceBase, new_metadata
from ems.common.inbox import processed_events_table
from ems.common.outbox import outbox_table
from ems.common.sync import DeletedUserColumns


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class Conversation(Base):
    """A client's thread with the bot and the admins, with what the inbox shows."""

    __tablename__ = "conversations"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    # Revision of the last user.updated applied to `username` (newer events only).
    user_revision: Mapped[int] = mapped_column(default=0)
    last_message_at: Mapped[datetime] = mapped_column(index=True)
    last_message_text: Mapped[str] = mapped_column(String(200))
    last_sender: Mapped[str] = mapped_column(String(8))
    # Client messages addressed to admins that no admin has read yet.
    unread_for_admin: Mapped[int] = mapped_column(default=0)
    # Admin replies the client has not read yet.
    unread_for_user: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_user_id_seq", "user_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Insertion order: a thread is read in this order, whatever the clocks said.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.user_id", ondelete="CASCADE")
    )
    # "user", "bot", "ai" or "admin".
    sender: Mapped[str] = mapped_column(String(8))
    # The mode the client chose: "bot" or "admin".
    mode: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class DeletedUser(DeletedUserColumns, Base):
    """A tombstone: a deleted user's still-valid token must not start a new thread."""


outbox = outbox_table(Base.metadata)
processed = processed_events_table(Base.metadata)
