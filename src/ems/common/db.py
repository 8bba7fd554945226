"""Async SQLAlchemy access to the one database a service owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, text
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


class Database:
    """One engine and session factory; built in a service's lifespan, disposed on exit."""

    def __init__(self, dsn: str, pool_size: int = 10) -> None:
        self.engine: AsyncEngine = create_async_engine(
            dsn, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """The driver's (asyncpg's) own connection from the one pool, for plain SQL."""
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            yield raw.driver_connection

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
