"""The balancer as a service: no API of its own, only health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ems.balancer.service import Balancer
from ems.balancer.settings import BalancerSettings
from ems.common.web import Runtime, create_service_app


def create_app(settings: BalancerSettings) -> FastAPI:
    @asynccontextmanager
    async def hook(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        balancer = Balancer(settings)
        app.state.balancer = balancer
        await balancer.start()
        try:
            yield
        finally:
            await balancer.stop()

    return create_service_app(
        name="balancer",
        settings=settings,
        api_prefix="/api/balancer",
        routers=[],
        hook=hook,
        description="Spreads readings from the raw queue over the monitoring replicas.",
    )
