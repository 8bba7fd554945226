"""What the services push to sockets, as the realtime tests publish it on `ems.ws`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ems.contracts.ws import ChatMessage, OverconsumptionAlert


def alert_for(device: uuid.UUID) -> OverconsumptionAlert:
    now = datetime.now(UTC)
    return OverconsumptionAlert(
        id=uuid.uuid4(),
        device_id=device,
        kind="hourly",
        hour=now.replace(minute=0, second=0, microsecond=0),
        kwh=3.5,
        limit_kwh=2.0,
        created_at=now,
    )


def chat(user: uuid.UUID, text: str, sender: str = "admin") -> ChatMessage:
    return ChatMessage(
        id=uuid.uuid4(),
        user_id=user,
        sender=sender,
        text=text,
        created_at=datetime.now(UTC),
    )
