"""What auth does with the users service's events: keep the role (and email) it copies
current, end a deleted user's logins, and stop the access tokens either makes stale."""

from __future__ import annotations

from functools import partial

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth import service
from ems.auth.models import Credential, outbox, processed_events
from ems.auth.settings import AuthSettings
from ems.common.db import Database
from ems.common.inbox import Subscription
from ems.common.outbox import OutboxRelay, add_event
from ems.common.sync import RelayingConsumer
from ems.contracts.events import CredentialRemoved, UserCreated, UserDeleted, UserUpdated

QUEUE = "auth.sync"


async def handle_user_changed(
    settings: AuthSettings, session: AsyncSession, event: UserCreated | UserUpdated
) -> None:
    """Copy the role and email of a newer revision of the profile; a new role stops every
    token that carries the old one."""
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
    if credential.role != event.role:
        await service.new_token_version(session, settings, credential, "role")
    credential.role = event.role
    credential.email = email
    credential.profile_revision = event.revision


async def handle_user_deleted(
    settings: AuthSettings, session: AsyncSession, event: UserDeleted
) -> None:
    """Delete the login (its refresh tokens go with it: ON DELETE CASCADE) and stop every
    access token it still has."""
    removed = await session.scalar(
        delete(Credential).where(Credential.id == event.id).returning(Credential.id)
    )
    if removed is not None:
        await service.user_deleted(session, settings, removed)
        await add_event(session, outbox, CredentialRemoved(id=removed))


def user_events_consumer(
    db: Database, relay: OutboxRelay, settings: AuthSettings
) -> RelayingConsumer:
    changed = partial(handle_user_changed, settings)
    return RelayingConsumer(
        db,
        processed_events,
        QUEUE,
        [
            Subscription(UserCreated, changed),
            Subscription(UserUpdated, changed),
            Subscription(UserDeleted, partial(handle_user_deleted, settings)),
        ],
        relay=relay,
    )
