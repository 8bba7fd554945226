"""Everything one realtime instance holds, wired once in `create_app`."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ems.common.messaging import EXCHANGE_WS, Broker
from ems.common.security import TokenVerifier
from ems.contracts.ws import Audience, WsEnvelope
from ems.realtime.settings import RealtimeSettings
from ems.realtime.sockets.connections import Connection, Hub
from ems.realtime.sockets.presence import PRESENCE_TYPE, Member, Presence, presence_text
from ems.realtime.sockets.replay import Replay

# A deleted user's token stays valid until it expires; remember them at least that long.
TOMBSTONE_SECONDS = 3600.0


class RealtimeContext:
    def __init__(self, settings: RealtimeSettings, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.verifier = verifier
        self.instance_id = uuid.uuid4().hex
        self.broker: Broker | None = None
        self.hub = Hub(on_first=self._first_socket, on_last=self._last_socket)
        self.presence = Presence(
            self.instance_id,
            self._publish_presence,
            self._tell_admins,
            interval=settings.presence_interval_seconds,
            flush=settings.presence_flush_seconds,
        )
        self.replay = Replay(settings.replay_seconds, settings.replay_per_user)
        self._deleted: dict[uuid.UUID, float] = {}

    def _first_socket(self, conn: Connection) -> None:
        self.presence.went_online(conn.user_id, Member(conn.username, conn.role))

    def _last_socket(self, conn: Connection) -> None:
        self.presence.went_offline(conn.user_id)

    def _tell_admins(self, user_id: uuid.UUID, member: Member, online: bool) -> None:
        self.hub.to_admins(presence_text(user_id, member, online))

    async def _publish_presence(self, data: dict[str, Any]) -> None:
        await self.publish(WsEnvelope(type=PRESENCE_TYPE, audience=Audience(), data=data))

    async def publish(self, envelope: WsEnvelope) -> None:
        """Live traffic (typing, presence): not persisted, gone if nobody listens."""
        if self.broker is None or not self.broker.is_connected():
            raise ConnectionError("broker not connected")
        await self.broker.publish(
            EXCHANGE_WS,
            envelope.type,
            envelope.model_dump_json().encode(),
            persistent=False,
            timeout=2.0,
        )

    # --- deleted users ---------------------------------------------------------------------
    def user_deleted(self, user_id: uuid.UUID) -> None:
        now = time.monotonic()
        self._deleted = {u: t for u, t in self._deleted.items() if now - t < TOMBSTONE_SECONDS}
        self._deleted[user_id] = now

    def is_deleted(self, user_id: uuid.UUID) -> bool:
        at = self._deleted.get(user_id)
        return at is not None and time.monotonic() - at < TOMBSTONE_SECONDS

    def presence_snapshot_text(self) -> str:
        return json.dumps(
            {
                "type": "presence.snapshot",
                "users": [
                    {"user_id": str(u), "username": m.username, "role": m.role}
                    for u, m in self.presence.members().items()
                ],
            }
        )
