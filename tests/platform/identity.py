"""The identity platform: auth, users and devices served on real loopback ports in the
test's own event loop, with the nginx gateway in front (generated from the services' specs,
as `ems up` does), and RabbitMQ reached through a proxy the test can cut to play a broker
outage.

Started by tests/users and tests/devices (each runs one platform for its package).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ems.auth.settings import AuthSettings
from ems.common.db import Database
from ems.common.messaging import EXCHANGE_SYNC
from ems.common.registry import service_spec
from ems.common.settings import CommonSettings
from ems.contracts.events import Envelope
from ems.devices.settings import DevicesSettings
from ems.users.settings import UsersSettings
from tests.platform.broker import Senders, TestBroker, own_vhost, probe
from tests.platform.credentials import service_headers
from tests.platform.polling import eventually
from tests.platform.servers import Served, up
from tests.platform.tcpproxy import TcpProxy, free_port

ADMIN = "root"
ADMIN_PASSWORD = "root-password-1"
PASSWORD = "correct-horse-1"
SERVICES = ("auth", "users", "devices")


@dataclass
class Platform:
    gateway: httpx.AsyncClient
    services: dict[str, Served]
    broker_proxy: TcpProxy
    # The platform's vhost, straight (not through the proxy): for probes and replays.
    amqp_url: str
    # Publishes as the services would (replays of their events).
    senders: Senders
    admin_token: str = ""
    _direct: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    _databases: dict[str, Database] = field(default_factory=dict)

    def direct(self, name: str) -> httpx.AsyncClient:
        """A client talking to one service straight, not through the gateway."""
        if name not in self._direct:
            self._direct[name] = httpx.AsyncClient(base_url=self.services[name].url, timeout=10)
        return self._direct[name]

    async def as_service(self, name: str) -> dict[str, str]:
        """A service token for `name`, obtained from auth as that service would."""
        return await service_headers(self.direct("auth"), self.services["auth"].settings, name)

    def database(self, name: str) -> Database:
        """A connection pool on one service's database, for reading its tables straight."""
        if name not in self._databases:
            self._databases[name] = Database(self.services[name].settings.dsn(), pool_size=1)
        return self._databases[name]

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.gateway.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def register(self, username: str | None = None, **extra: Any) -> dict[str, Any]:
        username = username or unique("client")
        response = await self.gateway.post(
            "/api/auth/register", json={"username": username, "password": PASSWORD, **extra}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def create_user(self, role: str = "CLIENT", **extra: Any) -> dict[str, Any]:
        """A user made by the admin through the gateway."""
        body = {"username": unique("user"), "password": PASSWORD, "role": role, **extra}
        response = await self.gateway.post(
            "/api/users", json=body, headers=bearer(self.admin_token)
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def client(self) -> tuple[dict[str, Any], str]:
        """A new client, known to every service, and their access token."""
        user = await self.create_user()
        await self.wait_known_to_devices(user["id"])
        return user, (await self.login(user["username"]))["access_token"]

    async def create_device(self, owner_id: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"name": unique("meter"), "max_hourly_kwh": 2.5, "owner_id": owner_id, **extra}
        response = await self.gateway.post(
            "/api/devices", json=body, headers=bearer(self.admin_token)
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def total(self, path: str) -> int:
        """How many items the admin's list at `path` holds."""
        response = await self.gateway.get(path, headers=bearer(self.admin_token))
        assert response.status_code == 200, response.text
        total: int = response.json()["total"]
        return total

    async def create_tariff(self, **fields: Any) -> dict[str, Any]:
        body = {"name": unique("Tariff "), "currency": "RON", "price_per_kwh": 0.8, **fields}
        response = await self.gateway.post(
            "/api/tariffs", json=body, headers=bearer(self.admin_token)
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    @contextlib.asynccontextmanager
    async def events(self, *keys: str) -> AsyncIterator[EventProbe]:
        """A queue of the tests' inspector on `ems.sync`, bound to `keys` (`tariff.*`), to
        read what the services publish, as any consumer would."""
        async with probe(self.amqp_url, *((EXCHANGE_SYNC, key) for key in keys)) as queue:
            yield EventProbe(queue)

    async def wait_known_to_devices(self, user_id: str, timeout: float = 5.0) -> None:
        async def known() -> bool:
            response = await self.gateway.get(
                f"/api/devices/user/{user_id}", headers=bearer(self.admin_token)
            )
            return response.status_code == 200

        await eventually(known, timeout=timeout)


class EventProbe:
    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.received: list[Envelope] = []

    async def about(self, entity_id: str, count: int, timeout: float = 5.0) -> list[Envelope]:
        """The first `count` events whose `data.id` is `entity_id`, in publish order; fails
        when fewer come within `timeout`."""

        async def enough() -> bool:
            message = await self.queue.get(no_ack=True, fail=False)
            if message is not None:
                envelope = Envelope.model_validate_json(message.body)
                assert message.message_id == str(envelope.event_id)
                self.received.append(envelope)
            return len(self._of(entity_id)) >= count

        await eventually(enough, timeout=timeout)
        return self._of(entity_id)[:count]

    def _of(self, entity_id: str) -> list[Envelope]:
        return [e for e in self.received if e.data.get("id") == entity_id]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def running_platform(
    make_settings: Any, db_prefix: str, test_broker: TestBroker, run_id: str
) -> AsyncIterator[Platform]:
    """On a vhost of this platform's own: two platforms on one vhost would share the queues
    `users.sync`, `devices.sync`, and each take (and misapply) half of the other's events."""
    async with (
        own_vhost(test_broker, run_id) as amqp_url,
        _platform(make_settings, db_prefix, amqp_url, Senders(test_broker, amqp_url)) as platform,
    ):
        yield platform
        await platform.senders.close()


@contextlib.asynccontextmanager
async def _platform(
    make_settings: Any, db_prefix: str, amqp_url: str, senders: Senders
) -> AsyncIterator[Platform]:
    proxy = TcpProxy(int(amqp_url.rsplit(":", 1)[1].split("/", 1)[0]))
    await proxy.start()
    vhost = amqp_url.rsplit("/", 1)[1]
    common: dict[str, Any] = {
        "db_prefix": f"{db_prefix}{uuid.uuid4().hex[:4]}_",
        # The PostgreSQL server is shared with every other test run (100 connections).
        "db_pool_size": 3,
        # Each service adds its own login.
        "amqp_url": f"amqp://127.0.0.1:{proxy.port}/{vhost}",
    }
    ports = {name: free_port() for name in SERVICES}
    auth_url = f"http://127.0.0.1:{ports['auth']}"
    settings: dict[str, CommonSettings] = {
        "auth": make_settings(
            AuthSettings,
            **common,
            admin_username=ADMIN,
            admin_password=ADMIN_PASSWORD,
            # Matrix tests fail many requests on purpose; throttling is tested in tests/auth.
            login_max_failures_per_address=10_000,
        ),
        "users": make_settings(UsersSettings, **common, auth_internal_url=auth_url),
        "devices": make_settings(
            DevicesSettings,
            **common,
            auth_internal_url=auth_url,
            users_internal_url=f"http://127.0.0.1:{ports['users']}",
        ),
    }
    served = {name: Served(service_spec(name), settings[name], ports[name]) for name in SERVICES}
    folder = Path(tempfile.mkdtemp(prefix="ems-gw-"))
    gateway = httpx.AsyncClient(timeout=10)
    try:
        async with up(served, folder) as gateway_url:
            gateway.base_url = httpx.URL(gateway_url)
            platform = Platform(gateway, served, proxy, amqp_url, senders)
            platform.admin_token = (await platform.login(ADMIN, ADMIN_PASSWORD))["access_token"]
            yield platform
            for client in platform._direct.values():
                await client.aclose()
            for database in platform._databases.values():
                await database.dispose()
    finally:
        await gateway.aclose()
        await proxy.stop()
        shutil.rmtree(folder, ignore_errors=True)
