"""authdb: credentials, refresh tokens, revocations, signing keys, login throttling."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ems.common.db import ServiceBase, new_metadata
from ems.common.inbox import processed_events_table
from ems.common.outbox import outbox_table


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class Credential(Base):
    """A login: who can authenticate, with which password, in which role."""

    __tablename__ = "credentials"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored lower-cased: usernames are case-insensitive.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # A copy: users is the single writer of roles and applies changes by `profile_revision`.
    role: Mapped[str] = mapped_column(String(16))
    # A copy of the profile's email (lower-cased), kept so that registration can refuse an
    # email that is already taken without asking users.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    # The users service's revision of the profile last applied here (0: none yet).
    profile_revision: Mapped[int] = mapped_column(default=0, server_default="0")
    # Signed into access tokens (`ver`); raised by a password or role change, which makes
    # every token issued before it invalid (a `Revocation` tells every service).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class RefreshToken(Base):
    """One refresh token of a rotation family; only its SHA-256 is stored."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("credentials.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # When the family's login happened: no refresh past its absolute lifetime.
    session_started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    # Set when the token was exchanged for a new one; a second use means it leaked.
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SigningKey(Base):
    """Ed25519 keys; the newest unretired one signs, all unretired ones are published."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str]
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    retired_at: Mapped[datetime | None]


class RevokedSession(Base):
    """Access tokens that stop before they expire (`ems.contracts.identity.Revocation`)."""

    __tablename__ = "revocations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID | None]
    min_version: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(16))
    # The clock at insert, not at transaction start: pollers read by it (with an overlap).
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp(), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """One rate limit's state (GCRA): the theoretical arrival time of the next attempt."""

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    tat: Mapped[datetime]


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
