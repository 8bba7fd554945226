"""Servers in the test's own event loop: the one uvicorn starter (`serve`), a service served
from its spec on a chosen port (`Served`), and services brought up as `ems up` does, with
the nginx gateway in front generated from their specs (`up`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from ems.auth.commands.first_admin import ensure_admin
from ems.auth.settings import AuthSettings
from ems.common.credentials import gateway_credential, master_key
from ems.common.migrations import migrate_service
from ems.common.registry import RateLimit, ServiceSpec
from ems.common.settings import CommonSettings
from ems.gateway.nginx import placeholder_root, upstreams_from_specs
from ems.stack.gateway import gateway_child, write_config
from tests.platform.polling import eventually
from tests.platform.tcpproxy import free_port


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl-C belongs to pytest, not to a server inside it.
        yield


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None, **options: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port (a free one unless given) in the
    test's event loop, lifespan on; yields `host:port` once it answers, stops it after."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", **options
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # a failed start-up raises here
        return server.started

    await eventually(started, timeout=30)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@dataclass
class Served:
    """One service built from its spec and served on `port` (chosen before the settings, so
    the services can be told each other's URLs)."""

    spec: ServiceSpec
    settings: CommonSettings
    port: int
    app: FastAPI | None = None
    _running: contextlib.AsyncExitStack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.app = self.spec.build_app(self.settings)
        running = contextlib.AsyncExitStack()
        await running.enter_async_context(serve(self.app, self.port, access_log=False))
        self._running = running

    async def stop(self) -> None:
        if self._running is not None:
            await self._running.aclose()
        self._running = None


@contextlib.asynccontextmanager
async def up(served: dict[str, Served], folder: Path) -> AsyncIterator[str]:
    """As `ems up` does: each database migrated, the first admin made before any service
    runs (so its registration event is published before users' and devices' queues exist),
    the services started in the order given (auth first), nginx in front with its files in
    `folder`; yields the gateway's URL. Stops nginx, then the services in reverse."""
    for service in served.values():  # one at a time: Alembic's context is process-global
        if service.spec.migrations:
            await migrate_service(service.spec, service.settings)
    auth = served["auth"].settings
    assert isinstance(auth, AuthSettings)
    await ensure_admin(auth)
    started: list[Served] = []
    nginx: asyncio.subprocess.Process | None = None
    try:
        for service in served.values():
            await service.start()
            started.append(service)
        port = free_port()
        nginx = await _start_gateway(folder, port, served)
        yield f"http://127.0.0.1:{port}"
    finally:
        if nginx is not None and nginx.returncode is None:
            nginx.terminate()
            await nginx.wait()
        for service in reversed(started):
            await service.stop()


async def _start_gateway(
    folder: Path, port: int, served: dict[str, Served]
) -> asyncio.subprocess.Process:
    """nginx on `port` in front of `served`, its config, run and log folders in `folder`."""
    auth = served["auth"].settings
    conf = write_config(
        folder,
        "127.0.0.1",
        port,
        placeholder_root(),
        upstreams_from_specs(
            [s.spec for s in served.values()], lambda spec, _: served[spec.name].port
        ),
        credential=gateway_credential(master_key(auth, None)),
        # Tests register many users from one address; the limit itself is tested apart.
        rate_limits={"signup": RateLimit(per_minute=60_000, burst=10_000)},
    )
    process = await asyncio.create_subprocess_exec(
        *gateway_child(conf).argv,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )

    async def answers() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"nginx exited with {process.returncode}")
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(answers, timeout=15)
    return process
