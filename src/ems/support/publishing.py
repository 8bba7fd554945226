"""Live messages for `ems.ws`, written to the outbox in the transaction that stores the
chat message, so a message is never stored without being announced (or the reverse)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.outbox import add_ws_message as outbox_ws_message
from ems.contracts.ws import Audience, ChatMessage, WsBody
from ems.support.models import Message, outbox


async def add_ws_message(session: AsyncSession, body: WsBody, audience: Audience) -> None:
    await outbox_ws_message(session, outbox, body, audience)


async def announce(session: AsyncSession, message: Message, audience: Audience) -> None:
    body = ChatMessage(
        id=message.id,
        user_id=message.user_id,
        sender=message.sender,
        text=message.text,
        created_at=message.created_at,
    )
    await add_ws_message(session, body, audience)
