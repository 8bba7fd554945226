from __future__ import annotations

import uuid

from pydantic import BaseModel


class OnlineUser(BaseModel):
    user_id: uuid.UUID
    username: str
    role: str


class PresencePage(BaseModel):
    items: list[OnlineUser]
    total: int
    page: int
    size: int
