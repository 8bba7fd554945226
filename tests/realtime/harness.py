"""Real servers for the realtime and support tests: uvicorn on loopback ports, real
WebSocket clients, and the auth service for real tokens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ems.auth.commands.first_admin import ensure_admin
from ems.auth.service import AuthContext
from ems.common.deps import provided_by
from ems.common.messaging import EXCHANGE_SYNC, EXCHANGE_WS
from ems.contracts.events import Envelope, EventBody
from ems.contracts.ws import Audience, WsBody, WsEnvelope
from tests.platform.broker import Senders
from tests.platform.polling import eventually
from tests.platform.tcpproxy import free_port


@contextlib.asynccontextmanager
async def serve(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields `host:port`."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", **options
    )
    server = uvicorn.Server(config)
    # The test process keeps its own signal handling.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()
        return server.started

    await eventually(started, timeout=30)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@dataclass
class Login:
    id: uuid.UUID
    username: str
    role: str
    access_token: str
    refresh_token: str


@dataclass
class AuthServer:
    address: str
    app: Any
    http: httpx.AsyncClient

    async def client(self, prefix: str = "client") -> Login:
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        response = await self.http.post(
            "/api/auth/register", json={"username": name, "password": "correct-horse-1"}
        )
        assert response.status_code == 201, response.text
        return await self.login(name)

    async def login(self, username: str, password: str = "correct-horse-1") -> Login:
        response = await self.http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        user = body["user"]
        return Login(
            uuid.UUID(user["id"]),
            user["username"],
            user["role"],
            body["access_token"],
            body["refresh_token"],
        )

    async def admin(self, prefix: str = "admin") -> Login:
        """A new admin of the test's own (events a test publishes may change it)."""
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        settings = provided_by(self.app, AuthContext).settings.model_copy(
            update={"admin_username": name, "admin_password": "admin-secret-1"}
        )
        await ensure_admin(settings)
        return await self.login(name, "admin-secret-1")

    def signing_key(self) -> Any:
        return provided_by(self.app, AuthContext).keys.signing_key


@dataclass
class Socket:
    """A WebSocket client that records everything it receives and how it was closed."""

    ws: ClientConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    _reader: asyncio.Task[None] | None = None

    def start(self) -> Socket:
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.received.append(json.loads(raw))
        except ConnectionClosed:
            pass
        if self.ws.close_code is not None:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("type") == kind]

    async def wait_for(self, kind: str, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            for message in self.of_type(kind):
                if all(message.get(k) == v for k, v in fields.items()):
                    return message
            return None

        return await eventually(found, timeout=timeout)

    async def wait_closed(self, timeout: float = 20.0) -> int:
        async def closed() -> int | None:
            return self.close_code

        return await eventually(closed, timeout=timeout)

    async def send(self, data: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(json.dumps(data) if isinstance(data, dict) else data)

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader


async def open_socket(
    address: str, token: str | None, *, origin: str | None = None, path: str = "/ws"
) -> Socket:
    query = f"?token={token}" if token is not None else ""
    ws = await connect(
        f"ws://{address}{path}{query}",
        origin=origin,  # type: ignore[arg-type]
        compression=None,
        max_size=None,
        open_timeout=10,
    )
    return Socket(ws).start()


async def connected(address: str, token: str) -> Socket:
    """An authenticated socket, after the server's welcome."""
    sock = await open_socket(address, token)
    await sock.wait_for("welcome")
    return sock


class Publishes(Protocol):
    """`Senders` (as the owning service) or one `Broker` client."""

    async def publish(self, exchange: str, routing_key: str, body: bytes) -> Any: ...


async def publish_ws(senders: Publishes, body: WsBody, audience: Audience) -> None:
    """As the service that owns the message type would send it."""
    envelope = WsEnvelope.wrap(body, audience)
    await senders.publish(EXCHANGE_WS, envelope.type, envelope.model_dump_json().encode())


async def publish_event(senders: Senders, body: EventBody) -> Envelope:
    """As the service that owns the event would send it."""
    envelope = Envelope.wrap(body)
    await senders.publish(EXCHANGE_SYNC, envelope.type, envelope.model_dump_json().encode())
    return envelope
