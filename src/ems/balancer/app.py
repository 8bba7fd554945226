"""The balancer as a service: no API of its own, only health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ems.balancer.service import Balancer
from ems.balancer.settings import BalancerSettings
from ems.balancer.spec import SPEC
from ems.common.deps import provide
from ems.common.web import Runtime, service_app


def create_app(settings: BalancerSettings) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        assert runtime.broker is not None
        balancer = Balancer(settings, runtime.broker, runtime.instance_id)
        provide(app, balancer)
        await balancer.start()
        try:
            yield
        finally:
            await balancer.stop()

    return service_app(SPEC, settings, [], hook)
