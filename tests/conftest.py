"""Fixtures shared by every test tier: real PostgreSQL and RabbitMQ, isolated per run.

Each test session gets its own database-name prefix and its own RabbitMQ vhost, both
removed at the end, so runs never see each other's data or queues.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest

from ems.common.settings import CommonSettings, to_libpq, with_database

# A test session runs several whole platforms side by side (the gateway's, the browser's,
# the security suite's), each of a dozen processes: small pools keep them all within
# PostgreSQL's default 100 connections. Child processes inherit it.
os.environ.setdefault("EMS_DB_POOL_SIZE", "2")

PG_URL = os.environ.get("EMS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
AMQP_HOST = os.environ.get("EMS_TEST_AMQP_HOST", "127.0.0.1:5672")

S = TypeVar("S", bound=CommonSettings)


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return PG_URL


@pytest.fixture(scope="session")
async def db_prefix(run_id: str) -> AsyncIterator[str]:
    """A database-name prefix for this run; every database with it is dropped afterwards."""
    prefix = f"t{run_id}_"
    yield prefix
    conn = await asyncpg.connect(to_libpq(with_database(PG_URL, "postgres")))
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_vhost(run_id: str) -> Iterator[str]:
    """An AMQP URL on a vhost of this run's own (deleted afterwards)."""
    vhost = f"ems-test-{run_id}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@{AMQP_HOST}/{vhost}"
    _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def make_settings(db_prefix: str, amqp_vhost: str) -> Any:
    """Build a service's settings pointed at this run's databases and vhost."""

    def make(cls: type[S], **overrides: Any) -> S:
        values: dict[str, Any] = {
            "pg_url": PG_URL,
            "db_prefix": db_prefix,
            "amqp_url": amqp_vhost,
            "log_json": False,
            "environment": "test",
        }
        values.update(overrides)
        return cls(**values)

    return make
