"""Messages on `ems.ws` for connected users, each addressed to the users it is for.

On the broker a message is `{"type": <routing key>, "audience": {...}, "data": {...}}`;
the realtime service delivers `{"type": ..., **data}` to exactly the audience's sockets.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Audience(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_ids: list[uuid.UUID] = Field(default_factory=list)
    # Every connected admin as well.
    admins: bool = False


class WsBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    routing_key: ClassVar[str]


class WsEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    audience: Audience
    data: dict[str, object]

    @classmethod
    def wrap(cls, body: WsBody, audience: Audience) -> WsEnvelope:
        return cls(type=body.routing_key, audience=audience, data=body.model_dump(mode="json"))


class OverconsumptionAlert(WsBody):
    """To the device's owner only (admins get `notify.digest`)."""

    routing_key: ClassVar[str] = "notify.overconsumption"
    id: uuid.UUID
    device_id: uuid.UUID
    device_name: str | None = None
    kind: Literal["hourly", "reading"]
    hour: datetime
    kwh: float
    limit_kwh: float
    created_at: datetime
    # The alert as a sentence, times in the owner's zone.
    message: str = ""


class SilentMeter(WsBody):
    """A meter sent nothing for longer than its `silence_minutes` (to the owner only)."""

    routing_key: ClassVar[str] = "notify.silent"
    id: uuid.UUID  # the `silent` alert
    device_id: uuid.UUID
    device_name: str | None = None
    # None: the meter never sent a reading.
    last_seen_at: datetime | None
    silence_minutes: int | None
    message: str


class MeterBack(WsBody):
    """The silent meter's next reading arrived: its episode ended (to the owner only)."""

    routing_key: ClassVar[str] = "notify.meter_back"
    id: uuid.UUID  # the `silent` alert it ends
    device_id: uuid.UUID
    device_name: str | None = None
    ended_at: datetime
    message: str


class DigestDevice(BaseModel):
    model_config = ConfigDict(frozen=True)

    device_id: uuid.UUID
    device_name: str | None = None
    count: int


class AlertDigest(WsBody):
    """To admins, once per `EMS_ALERT_DIGEST_SECONDS` window in which alerts were raised."""

    routing_key: ClassVar[str] = "notify.digest"
    since: datetime
    until: datetime  # exclusive
    count: int
    by_kind: dict[str, int]
    # The devices with the most alerts in the window (at most 5).
    devices: list[DigestDevice]


class AlertsRead(WsBody):
    """The user marked alerts read (in some tab): to all of that user's sockets."""

    routing_key: ClassVar[str] = "alerts.read"
    # None: all of them.
    ids: list[uuid.UUID] | None
    unread_count: int


class ConsumptionUpdated(WsBody):
    routing_key: ClassVar[str] = "consumption.updated"
    device_id: uuid.UUID
    hour: datetime
    kwh: float


class ChatMessage(WsBody):
    routing_key: ClassVar[str] = "chat.message"
    id: uuid.UUID
    user_id: uuid.UUID  # the client whose conversation this is
    sender: Literal["user", "bot", "ai", "admin"]
    text: str
    created_at: datetime


class ChatTyping(WsBody):
    routing_key: ClassVar[str] = "chat.typing"
    user_id: uuid.UUID  # the client whose conversation this is
    sender: Literal["user", "admin"]
    typing: bool
