"""Per-service databases and Alembic migrations.

Each service keeps its history in `<service>/migrations/`, whose env.py calls
`run_migrations(metadata)`. `migrate_service` creates the database when it is missing and
upgrades it to head; Alembic runs in a worker thread so that its own event loop never meets
the caller's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg
import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ems.common.settings import to_libpq, with_database

if TYPE_CHECKING:
    from ems.common.registry import ServiceSpec
    from ems.common.settings import CommonSettings

# Arbitrary constant: serialises concurrent migrators of one database.
_MIGRATION_LOCK_KEY = 0x454D53


async def create_database(server_url: str, name: str) -> bool:
    """Create the database unless it exists; True when it was created."""
    conn = await asyncpg.connect(to_libpq(with_database(server_url, "postgres")))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        # CREATE DATABASE cannot take parameters; the name is quoted as an identifier.
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(to_libpq(with_database(server_url, "postgres")))
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await conn.close()


def alembic_config(spec: ServiceSpec, dsn: str) -> Config:
    assert spec.migrations is not None
    cfg = Config()
    cfg.set_main_option("script_location", spec.migrations)
    cfg.attributes["dsn"] = dsn
    return cfg


async def migrate_service(spec: ServiceSpec, settings: CommonSettings) -> None:
    if settings.database_url is None:
        await create_database(settings.pg_url, settings.full_database_name())
    await asyncio.to_thread(command.upgrade, alembic_config(spec, settings.dsn()), "head")


def run_migrations(metadata: MetaData) -> None:
    """Body of every service's migrations/env.py."""
    dsn: str = context.config.attributes["dsn"]

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(dsn, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())


async def make_revision(spec: ServiceSpec, settings: CommonSettings, message: str) -> None:
    """Autogenerate a migration against a scratch database at head (a developer tool)."""
    import uuid

    scratch = f"ems_scratch_{uuid.uuid4().hex[:8]}"
    await create_database(settings.pg_url, scratch)
    try:
        cfg = alembic_config(spec, to_asyncpg_url(settings.pg_url, scratch))
        await asyncio.to_thread(command.upgrade, cfg, "head")
        await asyncio.to_thread(command.revision, cfg, message=message, autogenerate=True)
    finally:
        await drop_database(settings.pg_url, scratch)


def to_asyncpg_url(server_url: str, database: str) -> str:
    from ems.common.settings import to_asyncpg

    return to_asyncpg(with_database(server_url, database))


def create_outbox_tables() -> None:
    """The `outbox` (ems.common.outbox) and `processed_events` (ems.common.inbox) tables, as
    every service's first revision creates them.

    Old revisions call this, so it must never change: a later change to either table is a
    new revision in each service that owns one.
    """
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("exchange", sa.String(length=64), nullable=False),
        sa.Column("routing_key", sa.String(length=255), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        _written_at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        _written_at("processed_at"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
    )


def _written_at(name: str) -> sa.Column[datetime]:
    """When the row was written, as the database's clock says."""
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def drop_outbox_tables() -> None:
    """Undo `create_outbox_tables`."""
    op.drop_table("processed_events")
    op.drop_table("outbox")
