from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.users.platform import Platform, running_platform


@pytest.fixture(scope="package")
async def platform(make_settings: Any, db_prefix: str, amqp_vhost: str) -> AsyncIterator[Platform]:
    """auth, users and devices behind the gateway, for the tests of tests/users."""
    async with running_platform(make_settings, db_prefix, amqp_vhost) as running:
        yield running
