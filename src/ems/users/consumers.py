"""Message handlers of the users service: a new login becomes a profile."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.inbox import Subscription
from ems.common.sync import RelayingConsumer
from ems.common.unit_of_work import UnitOfWork
from ems.contracts.events import UserRegistered
from ems.users.models import processed_events
from ems.users.service import apply_registration

QUEUE = "users.sync"


async def handle_user_registered(session: AsyncSession, event: UserRegistered) -> None:
    """Create the profile of a login auth just made (registration, admin, create-admin)."""
    await apply_registration(session, event)


def registration_consumer(uow: UnitOfWork) -> RelayingConsumer:
    return RelayingConsumer(
        uow.db,
        processed_events,
        QUEUE,
        [Subscription(UserRegistered, handle_user_registered)],
        relay=uow.relay,
    )


async def apply_snapshot(uow: UnitOfWork, items: Sequence[UserRegistered]) -> int:
    """Profiles for logins whose event was published before this service's queue existed."""
    created = 0
    async with uow.transaction() as session:
        for item in items:
            _, new = await apply_registration(session, item)
            created += new
    return created
