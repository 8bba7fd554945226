"""The secure platform: every service behind the nginx gateway, served in the test's event
loop (the identity platform's pattern, tests/platform/identity.py, extended to monitoring,
support and realtime), with every log line any of them writes captured for the secrets
check."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from ems.auth.service import AuthContext
from ems.auth.settings import AuthSettings
from ems.common.db import Database
from ems.common.deps import provided_by
from ems.common.logs import JsonFormatter
from ems.common.registry import service_spec
from ems.common.settings import CommonSettings
from ems.devices.settings import DevicesSettings
from ems.monitoring.settings import MonitoringSettings
from ems.realtime.settings import RealtimeSettings
from ems.support.settings import SupportSettings
from ems.users.settings import UsersSettings
from tests.platform.broker import TestBroker, own_vhost
from tests.platform.credentials import service_headers
from tests.platform.identity import ADMIN, ADMIN_PASSWORD, PASSWORD
from tests.platform.polling import eventually
from tests.platform.servers import Served, up
from tests.platform.tcpproxy import free_port

SERVICES = ("auth", "users", "devices", "monitoring", "support", "realtime")
# Failed logins allowed per (account, address) and per address within the window (small
# and short so the throttling test is quick and leaves the address free for the others).
ACCOUNT_LIMIT, ADDRESS_LIMIT, WINDOW_SECONDS = 4, 12, 3


class CapturedLogs(logging.Handler):
    """Every record, formatted as the services write it in production (JSON)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter("security-test"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class SecurePlatform:
    gateway: httpx.AsyncClient
    gateway_url: str
    services: dict[str, Served]
    folder: Path
    logs: CapturedLogs
    # The platform's vhost (no login: each client adds its own).
    amqp_url: str
    admin_token: str = ""
    # Every secret the tests handle: none may ever appear in a log.
    secrets: set[str] = field(default_factory=set)
    _direct: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def direct(self, name: str) -> httpx.AsyncClient:
        if name not in self._direct:
            url = self.services[name].url
            self._direct[name] = httpx.AsyncClient(base_url=url, timeout=10)
        return self._direct[name]

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.gateway.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.secrets |= {password, body["access_token"], body["refresh_token"]}
        return body

    async def new_client(self) -> tuple[dict[str, Any], str]:
        """A registered client known to users and devices, and their access token."""
        username = f"client{uuid.uuid4().hex[:8]}"
        response = await self.gateway.post(
            "/api/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        token = (await self.login(username))["access_token"]
        admin = {"Authorization": f"Bearer {self.admin_token}"}

        async def known_to_devices() -> bool:
            known = await self.gateway.get(f"/api/devices/user/{user['id']}", headers=admin)
            return known.status_code == 200

        await eventually(known_to_devices, timeout=10, what="the new user known to devices")
        return user, token

    def signing_key(self) -> Ed25519PrivateKey:
        """auth's real signing key (for tokens that only their expiry may refuse)."""
        app = self.services["auth"].app
        assert app is not None
        key: Ed25519PrivateKey = provided_by(app, AuthContext).keys.signing_key
        return key

    async def as_service(self, name: str) -> dict[str, str]:
        """A service token for `name`, obtained from auth as that service would."""
        return await service_headers(self.direct("auth"), self.services["auth"].settings, name)

    async def add_alert(self, device_id: str) -> None:
        """An overconsumption alert for a meter, written where monitoring keeps them."""
        db = Database(self.services["monitoring"].settings.dsn(), pool_size=1)
        try:
            async with db.transaction() as session:
                await session.execute(
                    text(
                        "INSERT INTO alerts (id, device_id, hour, kind, micro_kwh,"
                        " limit_micro_kwh) VALUES (:id, :device, date_trunc('hour', now()),"
                        " 'hourly', 3000000, 2000000)"
                    ),
                    {"id": uuid.uuid4(), "device": uuid.UUID(device_id)},
                )
        finally:
            await db.dispose()

    def access_log(self) -> str:
        path = self.folder / "logs" / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""


@asynccontextmanager
async def running_secure_platform(
    make_settings: Any, db_prefix: str, test_broker: TestBroker, run_id: str
) -> AsyncIterator[SecurePlatform]:
    """Every service and the gateway on a vhost of its own, the root logger captured (and
    given back as it was after)."""
    logs = CapturedLogs()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(logs)
    root.setLevel(logging.INFO)
    # Noise, and monitoring's partition log line names a reserved LogRecord field (reported).
    for quiet in ("aiormq", "aio_pika", "asyncio", "ems.monitoring.ingest.partitions"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="ems-sec-"))
    gateway = httpx.AsyncClient(timeout=10)
    async with own_vhost(test_broker, run_id) as amqp_url:
        try:
            ports = {name: free_port() for name in SERVICES}
            auth_url = f"http://127.0.0.1:{ports['auth']}"
            common: dict[str, Any] = {
                "db_prefix": f"{db_prefix}sec{uuid.uuid4().hex[:4]}_",
                "amqp_url": amqp_url,
                "auth_internal_url": auth_url,
            }
            settings: dict[str, CommonSettings] = {
                "auth": make_settings(
                    AuthSettings,
                    **common,
                    admin_username=ADMIN,
                    admin_password=ADMIN_PASSWORD,
                    login_max_failures_per_account_address=ACCOUNT_LIMIT,
                    login_max_failures_per_address=ADDRESS_LIMIT,
                    login_window_seconds=WINDOW_SECONDS,
                ),
                "users": make_settings(UsersSettings, **common),
                "devices": make_settings(
                    DevicesSettings,
                    **common,
                    users_internal_url=f"http://127.0.0.1:{ports['users']}",
                ),
                "monitoring": make_settings(
                    MonitoringSettings,
                    **common,
                    devices_internal_url=f"http://127.0.0.1:{ports['devices']}",
                    users_internal_url=f"http://127.0.0.1:{ports['users']}",
                ),
                "support": make_settings(
                    SupportSettings,
                    **common,
                    monitoring_internal_url=f"http://127.0.0.1:{ports['monitoring']}",
                    devices_internal_url=f"http://127.0.0.1:{ports['devices']}",
                ),
                "realtime": make_settings(RealtimeSettings, **common),
            }
            served = {n: Served(service_spec(n), settings[n], ports[n]) for n in SERVICES}
            async with up(served, folder) as url:
                gateway.base_url = httpx.URL(url)
                platform = SecurePlatform(gateway, url, served, folder, logs, amqp_url)
                platform.secrets.add(ADMIN_PASSWORD)
                platform.secrets |= set(test_broker.passwords.values())
                login = await platform.login(ADMIN, ADMIN_PASSWORD)
                platform.admin_token = login["access_token"]
                yield platform
                for client in platform._direct.values():
                    await client.aclose()
        finally:
            await gateway.aclose()
            root.removeHandler(logs)
            root.setLevel(previous_level)
            shutil.rmtree(folder, ignore_errors=True)
