"""Fixtures of the monitoring tests: the ingest pipeline (tests/platform/pipeline.py) on a
database and a RabbitMQ vhost of this module's own, and auth in-process for tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ems.monitoring.settings import MonitoringSettings
from tests.platform.auth import Identity, in_process_auth
from tests.platform.broker import TestBroker
from tests.platform.pipeline import Pipeline, migrated_monitoring_settings, running_pipeline


@pytest.fixture(scope="module")
async def monitoring_settings(
    make_settings: Any, db_prefix: str, module_vhost: str
) -> MonitoringSettings:
    """Settings of replica 0 on a migrated database of this module's own."""
    return await migrated_monitoring_settings(make_settings, db_prefix, module_vhost)


@pytest.fixture
async def pipeline(
    monitoring_settings: MonitoringSettings, test_broker: TestBroker
) -> AsyncIterator[Pipeline]:
    """Nothing running yet: each test starts the replicas and balancer it needs."""
    async with running_pipeline(monitoring_settings, test_broker) as running:
        yield running


@pytest.fixture(scope="module")
async def identity(make_settings: Any, db_prefix: str) -> AsyncIterator[Identity]:
    """The auth service in-process on a database of its own, cheap argon2, one admin."""
    async with in_process_auth(make_settings, db_prefix) as running:
        yield running
