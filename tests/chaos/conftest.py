"""The platform's ingest and sync path as real processes on a private PostgreSQL and
RabbitMQ: auth, devices, two monitoring replicas and the balancer.

Slow (about two minutes) and it kills servers, so it runs only when asked:
`EMS_CHAOS=1 uv run pytest tests/chaos` (`make chaos`). `EMS_RESULTS_DIR` names a folder
for the results (the make target writes docs/results/)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ems.auth.commands.first_admin import ensure_admin
from ems.auth.settings import AuthSettings
from ems.common.migrations import migrate_service
from ems.common.registry import service_spec
from tests.chaos.cluster import (
    Postgres,
    RabbitMQ,
    Service,
    ems_service,
    have_private_servers,
    private_postgres,
    private_rabbitmq,
    work_folder,
)

ADMIN, ADMIN_PASSWORD = "chaos-admin", "chaos-admin-password-1"


def slow_tests_wanted(variable: str) -> None:
    if os.environ.get(variable) != "1":
        pytest.skip(f"slow failure test: set {variable}=1 (make chaos)")
    missing = have_private_servers()
    if missing:
        pytest.skip(missing)


def write_results(name: str, results: dict[str, Any], markdown: str) -> None:
    folder = os.environ.get("EMS_RESULTS_DIR")
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{name}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (path / f"{name}.md").write_text(markdown)


@dataclass
class Cluster:
    folder: Path
    postgres: Postgres
    rabbitmq: RabbitMQ
    services: dict[str, Service] = field(default_factory=dict)
    admin_token: str = ""

    def dsn(self, database: str) -> str:
        return f"{self.postgres.url}/{database}"

    async def all_ready(self) -> bool:
        results = await asyncio.gather(*(s.ready() for s in self.services.values()))
        return all(results)


def _settings(cls: type[Any], pg_url: str, amqp_url: str, **extra: Any) -> Any:
    return cls(pg_url=pg_url, amqp_url=amqp_url, environment="test", log_json=False, **extra)


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    slow_tests_wanted("EMS_CHAOS")
    folder = work_folder("ems-chaos-")
    postgres = await private_postgres(folder)
    rabbitmq = private_rabbitmq(folder)
    cluster = Cluster(folder, postgres, rabbitmq)
    try:
        await asyncio.gather(postgres.start(), rabbitmq.start())
        for name in ("auth", "devices", "monitoring"):
            spec = service_spec(name)
            settings = _settings(spec.load_settings_class(), postgres.url, rabbitmq.url)
            await migrate_service(spec, settings)
        await ensure_admin(
            _settings(
                AuthSettings,
                postgres.url,
                rabbitmq.url,
                admin_username=ADMIN,
                admin_password=ADMIN_PASSWORD,
                argon2_memory_kib=1024,
                argon2_time_cost=1,
            )
        )
        common = {"EMS_PG_URL": postgres.url, **rabbitmq.environment()}
        auth = ems_service(
            folder,
            "auth",
            0,
            {**common, "EMS_ARGON2_MEMORY_KIB": "1024", "EMS_ARGON2_TIME_COST": "1"},
        )
        await auth.start()
        common["EMS_AUTH_INTERNAL_URL"] = auth.url
        devices = ems_service(
            folder,
            "devices",
            0,
            # No users service in this test: its snapshot is retried in the background.
            {**common, "EMS_USERS_INTERNAL_URL": "http://127.0.0.1:9"},
        )
        await devices.start()
        monitoring_env = {
            **common,
            "EMS_DEVICES_INTERNAL_URL": devices.url,
            "EMS_USERS_INTERNAL_URL": "",
        }
        replicas = [ems_service(folder, "monitoring", i, monitoring_env) for i in range(2)]
        balancer = ems_service(folder, "balancer", 0, common)
        await asyncio.gather(*(s.start() for s in [*replicas, balancer]))
        cluster.services = {s.label: s for s in [auth, devices, *replicas, balancer]}
        async with httpx.AsyncClient(base_url=auth.url) as client:
            response = await client.post(
                "/api/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD}
            )
            assert response.status_code == 200, response.text
            cluster.admin_token = response.json()["access_token"]
        yield cluster
    finally:
        for service in cluster.services.values():
            service.proc.stop()
            await service.close()
        rabbitmq.stop()
        postgres.proc.stop(signal.SIGINT)
        if os.environ.get("EMS_KEEP_LOGS") != "1":
            shutil.rmtree(folder, ignore_errors=True)
