from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.platform.broker import TestBroker
from tests.platform.identity import Platform, running_platform


@pytest.fixture(scope="package")
async def platform(
    make_settings: Any, db_prefix: str, test_broker: TestBroker, run_id: str
) -> AsyncIterator[Platform]:
    """auth, users and devices behind the gateway, for every test of tests/devices."""
    async with running_platform(make_settings, db_prefix, test_broker, run_id) as running:
        yield running
