"""What auth does with the users service's events: keep the role (and email) it copies
current, and end a deleted user's logins."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth.models import Credential, outbox, processed_events
from ems.common.db import Database
from ems.common.inbox import Subscription
from ems.common.outbox import OutboxRelay, add_event
from ems.common.sync import RelayingConsumer
from ems.contracts.events import CredentialRemoved, UserCreated, UserDeleted, UserUpdated

QUEUE = "auth.sync"


async def handle_user_changed(session: AsyncSession, event: UserCreated | UserUpdated) -> None:
    """Copy the role and email of a newer revision of the profile."""
    credential = await session.get(Credential, event.id, with_for_update=True)
    if credential is None or credential.profile_revision >= event.revision:
        return  # a login that is gone, or an older state than the one we have
    email = event.email.lower() if event.email else None
    if email and email != credential.email:
        # users keeps emails unique: whoever holds this one here has given it up there,
        # and its own update is on the way.
        await session.execute(
            update(Credential)
            .where(Credential.email == email, Credential.id != event.id)
            .values(email=None)
        )
    credential.role = event.role
    credential.email = email
    credential.profile_revision = event.revision


async def handle_user_deleted(session: AsyncSession, event: UserDeleted) -> None:
    """Delete the login; its refresh tokens go with it (ON DELETE CASCADE)."""
    removed = await session.scalar(
        delete(Credential).where(Credential.id == event.id).returning(Credential.id)
    )
    if removed is not None:
        await add_event(session, outbox, CredentialRemoved(id=removed))


def user_events_consumer(db: Database, relay: OutboxRelay) -> RelayingConsumer:
    return RelayingConsumer(
        db,
        processed_events,
        QUEUE,
        [
            Subscription(UserCreated, handle_user_changed),
            Subscription(UserUpdated, handle_user_changed),
            Subscription(UserDeleted, handle_user_deleted),
        ],
        relay=relay,
    )
