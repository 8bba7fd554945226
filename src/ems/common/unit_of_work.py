"""A use case's unit of work: one transaction over the service's database, the events it
causes written to the outbox in that same transaction, and the relay woken once it has
committed (so they leave at once rather than at the relay's next poll).

Use cases (`service.py`) open it themselves; routes never commit or publish.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ems.common.db import Database
from ems.common.outbox import OutboxRelay


class UnitOfWork:
    def __init__(self, db: Database, relay: OutboxRelay) -> None:
        self.db = db
        self.relay = relay
        # Reads need no transaction: autocommit spares the BEGIN/ROLLBACK round trips.
        self._reads = async_sessionmaker(
            db.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, then what it added to the
        outbox is published; rolled back (nothing published) on error."""
        async with self.db.transaction() as session:
            yield session
        self.relay.notify()

    def reads(self) -> AsyncSession:
        """A session for reads only (its own statements, no transaction around them)."""
        return self._reads()
