"""User events from ems.sync: a deleted user's conversations go; a renamed user's
username follows."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ems.contracts.events import UserDeleted, UserUpdated
from ems.support.models import Conversation, DeletedUser


async def handle_user_deleted(session: AsyncSession, event: UserDeleted) -> None:
    """Remove the user's conversation and messages; remember the id (a tombstone)."""
    await session.execute(
        insert(DeletedUser).values(id=event.id, revision=event.revision).on_conflict_do_nothing()
    )
    # Messages go with it (ON DELETE CASCADE).
    await session.execute(delete(Conversation).where(Conversation.user_id == event.id))


async def handle_user_updated(session: AsyncSession, event: UserUpdated) -> None:
    """Keep the inbox's username current; older or repeated events change nothing."""
    await session.execute(
        update(Conversation)
        .where(Conversation.user_id == event.id, Conversation.user_revision < event.revision)
        .values(username=event.username, user_revision=event.revision)
    )
