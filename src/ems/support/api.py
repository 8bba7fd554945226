"""Routes of the support service: thin, each calling one function of `service`."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from ems.common.deps import provided
from ems.common.openapi import errors
from ems.common.paging import PageParams, page_params
from ems.common.security import AdminUser, CurrentUser, bearer_token
from ems.support import service
from ems.support.schemas import (
    AdminReplyCreate,
    ConversationPage,
    ConversationRead,
    ExchangeRead,
    MessageCreate,
    MessagePage,
    MessageRead,
    TypingCreate,
)
from ems.support.service import SupportContext


def caller_token(request: Request, _: CurrentUser) -> str:
    """The caller's own bearer token (verified by `CurrentUser`): the assistant reads the
    caller's figures with it, so monitoring's rules for that caller apply."""
    return bearer_token(request) or ""


Ctx = Annotated[SupportContext, Depends(provided(SupportContext))]
Token = Annotated[str, Depends(caller_token)]
# A conversation's messages and the inbox: 50 a page, at most 200.
Paging = Annotated[PageParams, Depends(page_params(default_size=50, max_size=200))]

router = APIRouter(prefix="/api/support", tags=["support"])


@router.post("/messages", response_model=ExchangeRead, responses=errors(403, 429))
async def create_message(
    body: MessageCreate, user: CurrentUser, token: Token, ctx: Ctx
) -> ExchangeRead:
    """A client's message to the bot (answered at once, from the client's own figures when
    asked about them) or to the admins."""
    return await service.post_client_message(ctx, user, token, body)


@router.post(
    "/admin/reply",
    response_model=MessageRead,
    status_code=status.HTTP_201_CREATED,
    responses=errors(404, 429),
)
async def create_admin_reply(body: AdminReplyCreate, admin: AdminUser, ctx: Ctx) -> MessageRead:
    """An admin's reply, delivered to that client only."""
    return await service.admin_reply(ctx, admin, body)


@router.get("/history", response_model=MessagePage, responses=errors(403, 404))
async def read_history(
    user: CurrentUser,
    ctx: Ctx,
    paging: Paging,
    user_id: uuid.UUID | None = None,
    order: Literal["asc", "desc"] = "asc",
) -> MessagePage:
    """A conversation's messages: one's own, or (admins) any client's by `user_id`."""
    return await service.history(ctx, user, user_id, paging.page, paging.size, order)


@router.get("/conversations", response_model=ConversationPage)
async def read_conversations(
    _: AdminUser,
    ctx: Ctx,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=64)] = None,
    unread_only: bool = False,
) -> ConversationPage:
    """The admin inbox: conversations by latest message, with unread counts."""
    return await service.conversations(ctx, paging.page, paging.size, q, unread_only)


@router.get("/conversations/me", response_model=ConversationRead | None)
async def read_own_conversation(user: CurrentUser, ctx: Ctx) -> ConversationRead | None:
    """The caller's own conversation summary (null before the first message)."""
    return await service.own_conversation(ctx, user)


@router.post(
    "/conversations/{user_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404),
)
async def mark_conversation_read(user_id: uuid.UUID, user: CurrentUser, ctx: Ctx) -> Response:
    """Mark a conversation read on the caller's side (admins: any; clients: their own)."""
    await service.mark_read(ctx, user, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/typing", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 429))
async def create_typing(body: TypingCreate, user: CurrentUser, ctx: Ctx) -> Response:
    """A typing indicator for the other side (the WebSocket offers the same, cheaper)."""
    await service.typing(ctx, user, body.typing, body.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
