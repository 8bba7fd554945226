"""Live messages for `ems.ws`, written to the outbox in the transaction that stores the
chat message, so a message is never stored without being announced (or the reverse)."""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.bus import EXCHANGE_WS
from ems.contracts.ws import Audience, ChatMessage, WsBody, WsEnvelope
from ems.support.models import Message, outbox


async def add_ws_message(session: AsyncSession, body: WsBody, audience: Audience) -> None:
    envelope = WsEnvelope.wrap(body, audience)
    await session.execute(
        insert(outbox).values(
            event_id=uuid.uuid4(),
            exchange=EXCHANGE_WS,
            routing_key=envelope.type,
            body=envelope.model_dump_json().encode(),
        )
    )


async def announce(session: AsyncSession, message: Message, audience: Audience) -> None:
    body = ChatMessage(
        id=message.id,
        user_id=message.user_id,
        sender=message.sender,
        text=message.text,
        created_at=message.created_at,
    )
    await add_ws_message(session, body, audience)
