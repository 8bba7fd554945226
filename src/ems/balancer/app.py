"""The balancer as a service: no API of its own, only health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ems.balancer.service import Balancer
from ems.balancer.settings import BalancerSettings
from ems.balancer.spec import SPEC
from ems.common.web import Runtime, service_app


def create_app(settings: BalancerSettings) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.broker is not None
        balancer = Balancer(settings, runtime.broker, runtime.instance_id)
        app.state.balancer = balancer
        await balancer.start()
        runtime.background.append(asyncio.create_task(balancer.run(), name="balancer"))
        yield

    return service_app(SPEC, settings, [], hook)
