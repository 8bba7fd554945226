"""Async SQLAlchemy access to the one database a service owns."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, exc, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ServiceBase(DeclarativeBase):
    """Base of each service's own declarative base; every service has its own metadata."""

    __abstract__ = True
    type_annotation_map: dict[Any, Any] = {datetime: DateTime(timezone=True)}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING)


# A pooled connection idle for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0


class Database:
    """One engine and session factory; built in a service's lifespan, disposed on exit.

    No pre-ping on every checkout (with asyncpg that is `BEGIN`, a query and `ROLLBACK`:
    three round trips before each request's own): only a connection that sat idle for
    `IDLE_PING_SECONDS` is pinged, and replaced if the server is gone. One that breaks while
    in use fails that request, and SQLAlchemy then replaces every connection opened before.
    """

    def __init__(self, dsn: str, pool_size: int = 10) -> None:
        # At most twice `pool_size` connections, as before, but each kept once opened: a
        # pool of `pool_size` plus overflow closed every connection past `pool_size` when it
        # came back, so a steady load above it opened (and initialised) a connection for
        # nearly every request.
        self.engine: AsyncEngine = create_async_engine(
            dsn, pool_size=2 * pool_size, max_overflow=0, pool_recycle=1800
        )
        _ping_when_idle(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """The driver's (asyncpg's) own connection from the one pool, for plain SQL. One
        that broke while in use (the server restarted) is dropped, not handed out again:
        SQLAlchemy does that itself only for the statements it runs."""
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            try:
                yield driver
            except BaseException:
                if driver is not None and driver.is_closed():
                    await conn.invalidate()
                raise

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _ping_when_idle(engine: AsyncEngine) -> None:
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def returned(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def handed_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another (a fresh one if needed).
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error
