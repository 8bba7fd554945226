"""Real WebSocket clients for the realtime, support and alert tests: each records what it
receives and how it was closed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.platform.polling import eventually


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
