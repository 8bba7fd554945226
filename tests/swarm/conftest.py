"""The platform as `make swarm-up` deployed it on Docker Swarm, reached only through its
published ports (the gateway, AMQP for meters) like any user or meter would; Docker's own
commands stand in for the operator (scale, kill) and for the checker that reads what
monitoring stored (`psql` inside the database's container).

Slow and disruptive (it kills containers), so it runs only when asked:
`make swarm-test` (EMS_SWARM_TEST=1, after `make swarm-up`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ems.common.messaging.topology import METER
from ems.stack.swarm import deploy
from ems.stack.swarm.engine import Docker, find_cli
from ems.stack.swarm.secrets import ADMIN_PASSWORD_FILE, METER_PASSWORD_FILE, VHOST
from ems.stack.swarm.settings import SwarmSettings

STACK = deploy.STACK


@dataclass
class Platform:
    settings: SwarmSettings
    docker: Docker
    admin_username: str
    admin_password: str
    meter_password: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.swarm_http_port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def meter_url(self) -> str:
        port = self.settings.swarm_amqp_port
        return f"amqp://{METER}:{self.meter_password}@127.0.0.1:{port}/{VHOST}"

    @property
    def folder(self) -> Path:
        return self.settings.folder

    def http(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    async def login(self, username: str, password: str) -> dict[str, Any]:
        async with self.http() as client:
            response = await client.post(
                "/api/auth/login", json={"username": username, "password": password}
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # --- Docker, as the operator -------------------------------------------------------
    def containers(self, service: str) -> list[str]:
        """Running containers of one service, by task slot."""
        rows = self.docker.lines(
            "ps",
            "--filter",
            f"label=com.docker.swarm.service.name={STACK}_{service}",
            "--format",
            '{{.ID}}\t{{.Label "com.docker.swarm.task.name"}}',
        )
        return [row.split("\t")[0] for row in sorted(rows, key=lambda r: r.split("\t")[1])]

    def healthy(self, service: str) -> bool:
        state = next(s for s in deploy.service_states(self.docker) if s.name == service)
        return state.ready and state.healthy == state.desired

    def psql(self, sql: str) -> list[list[str]]:
        """Rows of a query on monitoringdb, from inside its container."""
        [container] = self.containers("monitoringdb")
        result = self.docker.run(
            "exec", container, "psql", "-U", "ems", "-d", "monitoringdb", "-AtX",
            "-F", "\t", "-c", sql,
        )  # fmt: skip
        return [line.split("\t") for line in result.stdout.splitlines() if line]


@pytest.fixture(scope="session")
def platform() -> Platform:
    if os.environ.get("EMS_SWARM_TEST") != "1":
        pytest.skip("deploys on Docker Swarm and kills containers: make swarm-test")
    settings = SwarmSettings()
    docker = Docker(find_cli(settings.swarm_docker))
    states = deploy.service_states(docker) if docker.ok("info") else []
    waiting = [s.name for s in states if not s.ready]
    if not states or waiting or not deploy.gateway_answers(settings.swarm_http_port):
        pytest.fail(f"the stack is not up and healthy ({waiting or 'no stack'}): make swarm-up")
    secrets = settings.folder / "secrets"
    return Platform(
        settings,
        docker,
        settings.admin_username,
        (secrets / ADMIN_PASSWORD_FILE).read_text(),
        (secrets / METER_PASSWORD_FILE).read_text(),
    )


async def until(
    probe: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.5
) -> float:
    """Seconds until `probe` holds; AssertionError naming `what` after `timeout`."""
    started = time.monotonic()
    while not await probe():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(interval)
    return time.monotonic() - started
