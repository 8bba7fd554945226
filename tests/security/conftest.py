from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.platform.broker import TestBroker
from tests.platform.secure import SecurePlatform, running_secure_platform


@pytest.fixture(scope="session")
async def secure_platform(
    make_settings: Any, db_prefix: str, test_broker: TestBroker, run_id: str
) -> AsyncIterator[SecurePlatform]:
    """Every service behind the gateway, with every log line captured for the secrets check."""
    async with running_secure_platform(make_settings, db_prefix, test_broker, run_id) as running:
        yield running
