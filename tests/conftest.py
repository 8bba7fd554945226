"""Fixtures shared by every test tier: real PostgreSQL and RabbitMQ, isolated per run.

Each test session gets its own database-name prefix and its own RabbitMQ vhost, both
removed at the end, so runs never see each other's data or queues.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from ems.common.settings import CommonSettings, to_libpq, with_database
from tests.platform.broker import TOOLS, TestBroker, plain_url, vhost_name

# A test session runs several whole platforms side by side (the gateway's, the browser's,
# the security suite's), each of a dozen processes: small pools keep them all within
# PostgreSQL's default 100 connections. Child processes inherit it.
os.environ.setdefault("EMS_DB_POOL_SIZE", "2")

PG_URL = os.environ.get("EMS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
AMQP_HOST = os.environ.get("EMS_TEST_AMQP_HOST", "127.0.0.1:5672")
# Broker logins of this run are `t<run>-<identity>`; unique per run, removed at the end.
RUN_ID = uuid.uuid4().hex[:8]

S = TypeVar("S", bound=CommonSettings)


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


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


@pytest.fixture(scope="session")
def test_broker(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBroker]:
    """This run's broker users (one per service identity, as in production), with the
    plugin and the size limit the platform needs. Child processes (`ems serve`, `ems up`)
    find the same logins through the environment."""
    secrets: Path = tmp_path_factory.mktemp("broker-secrets")
    broker = TestBroker(f"t{run_id}-", secrets)
    TOOLS.enable_plugin()
    TOOLS.limit_message_size()
    os.environ["EMS_BROKER_USER_PREFIX"] = broker.prefix
    os.environ["EMS_BROKER_SECRETS_DIR"] = str(secrets)
    yield broker
    broker.remove_users()


@pytest.fixture(scope="session")
def amqp_vhost(run_id: str, test_broker: TestBroker) -> Iterator[str]:
    """An AMQP URL (no login: each service adds its own) on a provisioned vhost of this
    run's own (deleted afterwards)."""
    vhost = vhost_name(run_id)
    test_broker.provision(vhost)
    yield plain_url(vhost)
    TOOLS.ctl("delete_vhost", vhost)


@pytest.fixture(scope="module")
def module_vhost(run_id: str, test_broker: TestBroker) -> Iterator[str]:
    """An AMQP URL (no login) on a provisioned vhost of this test module's own: for modules
    whose services consume the fixed queues of the topology and must not share them."""
    vhost = vhost_name(run_id)
    test_broker.provision(vhost)
    yield plain_url(vhost)
    TOOLS.ctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def make_settings(db_prefix: str, amqp_vhost: str, test_broker: TestBroker) -> Any:
    """Build a service's settings pointed at this run's databases and vhost; each service
    logs in to the broker as itself, with least privilege. Password hashing (auth) is cheap:
    the tests hash thousands of passwords on two shared cores."""

    def make(cls: type[S], **overrides: Any) -> S:
        values: dict[str, Any] = {
            "pg_url": PG_URL,
            "db_prefix": db_prefix,
            "amqp_url": amqp_vhost,
            "broker_user_prefix": test_broker.prefix,
            "broker_secrets_dir": test_broker.secrets,
            "log_json": False,
            "environment": "test",
        }
        if "argon2_memory_kib" in cls.model_fields:
            values |= {"argon2_memory_kib": 1024, "argon2_time_cost": 1}
        values.update(overrides)
        return cls(**values)

    return make
