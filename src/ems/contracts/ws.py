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
    routing_key: ClassVar[str] = "notify.overconsumption"
    id: uuid.UUID
    device_id: uuid.UUID
    device_name: str | None = None
    kind: Literal["hourly", "reading"]
    hour: datetime
    kwh: float
    limit_kwh: float
    created_at: datetime


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
