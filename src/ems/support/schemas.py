"""Request and response bodies of the support API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

# Leading/trailing blanks are dropped; an empty or over-long message is a 422.
MessageText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]


class MessageCreate(BaseModel):
    text: MessageText
    mode: Literal["bot", "admin"] = "bot"


class AdminReplyCreate(BaseModel):
    user_id: uuid.UUID
    text: MessageText


class TypingCreate(BaseModel):
    typing: bool = True
    # Admins name the client whose conversation they type in.
    user_id: uuid.UUID | None = None


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    sender: Literal["user", "bot", "ai", "admin"]
    text: str
    created_at: datetime


class ExchangeRead(BaseModel):
    message: MessageRead
    reply: MessageRead | None


class MessagePage(BaseModel):
    items: list[MessageRead]
    total: int
    page: int
    size: int


class ConversationRead(BaseModel):
    user_id: uuid.UUID
    username: str
    last_message: str
    last_sender: str
    last_message_at: datetime
    unread_count: int
    unread_for_user: int


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    total: int
    page: int
    size: int
