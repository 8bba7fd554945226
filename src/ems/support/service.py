"""What the support service does: the client's thread with the bot, the assistant and the
admins. Each use case opens its own unit of work (the message and its live announcement in
one transaction, published once committed); the routes only call them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.errors import ApiError, forbidden, not_found
from ems.common.security import Principal
from ems.common.unit_of_work import UnitOfWork
from ems.contracts.ws import Audience, ChatTyping
from ems.support.assistant import answers
from ems.support.assistant.bot import HANDOFF_ANSWER, figure_question, match_rule
from ems.support.assistant.figures import ConsumptionApi
from ems.support.assistant.llm import LlmClient, Turn
from ems.support.models import Conversation, DeletedUser, Message
from ems.support.publishing import add_ws_message, announce
from ems.support.schemas import (
    AdminReplyCreate,
    ConversationPage,
    ConversationRead,
    ExchangeRead,
    MessageCreate,
    MessagePage,
    MessageRead,
)
from ems.support.throttle import MessageThrottle

PREVIEW_CHARS = 200


@dataclass(frozen=True)
class SupportContext:
    """What the use cases work with, built by the app's lifespan."""

    uow: UnitOfWork
    llm: LlmClient
    throttle: MessageThrottle
    figures: ConsumptionApi
    # Messages of the conversation the LLM sees before the question.
    llm_history: int = 10


async def post_client_message(
    ctx: SupportContext, client: Principal, token: str, body: MessageCreate
) -> ExchangeRead:
    """Store the client's message; in bot mode answer it (the client's own figures, a rule,
    else the LLM, else a handoff). `token` is the client's own: the figures are read with it."""
    if client.is_admin:
        raise forbidden("admins answer clients with POST /api/support/admin/reply")
    ctx.throttle.check(client.user_id)
    to_admins = body.mode == "admin"
    async with ctx.uow.transaction() as session:
        conversation = await _open_conversation(session, client)
        message = _add(session, conversation, "user", body.mode, body.text)
        if to_admins:
            conversation.unread_for_admin += 1
        await session.flush()
        await announce(session, message, Audience(user_ids=[client.user_id], admins=to_admins))
    if to_admins:
        return ExchangeRead(message=_read(message), reply=None)
    reply = await _answer(ctx, client.user_id, token, message)
    return ExchangeRead(message=_read(message), reply=_read(reply) if reply else None)


async def _answer(
    ctx: SupportContext, client_id: uuid.UUID, token: str, question: Message
) -> Message | None:
    # Outside any transaction: monitoring and the LLM may take seconds.
    handoff = False
    if (figures := figure_question(question.text)) is not None:
        sender, text = "bot", await answers.answer(ctx.figures, token, figures)
    elif (rule := match_rule(question.text)) is not None:
        sender, text = "bot", rule.answer
    elif (ai := await _ask_llm(ctx, client_id, token, question)) is not None:
        sender, text = "ai", ai
    else:
        sender, text, handoff = "bot", HANDOFF_ANSWER, True
    async with ctx.uow.transaction() as session:
        conversation = await session.get(Conversation, client_id, with_for_update=True)
        if conversation is None:  # the user was deleted meanwhile
            return None
        reply = _add(session, conversation, sender, "bot", text)
        if handoff:
            # The question the bot could not answer lands in the admins' inbox.
            conversation.unread_for_admin += 1
            await announce(session, question, Audience(admins=True))
        await session.flush()
        await announce(session, reply, Audience(user_ids=[client_id], admins=handoff))
    return reply


async def _ask_llm(
    ctx: SupportContext, client_id: uuid.UUID, token: str, question: Message
) -> str | None:
    """The LLM's answer, given the client's own recent messages and own figures only."""
    if not ctx.llm.configured:
        return None
    async with ctx.uow.reads() as session:
        rows = await session.scalars(
            select(Message)
            .where(Message.user_id == client_id, Message.id != question.id)
            .order_by(Message.seq.desc())
            .limit(ctx.llm_history)
        )
        history = [_turn(m) for m in reversed(list(rows))]
    figures = await answers.summary(ctx.figures, token)
    return await ctx.llm.answer(question.text, history, figures)


def _turn(message: Message) -> Turn:
    if message.sender == "user":
        return Turn("user", message.text)
    prefix = "(an admin wrote) " if message.sender == "admin" else ""
    return Turn("assistant", prefix + message.text)


async def admin_reply(ctx: SupportContext, admin: Principal, body: AdminReplyCreate) -> MessageRead:
    """An admin's answer: to that one client (and the other admins' inbox)."""
    async with ctx.uow.transaction() as session:
        conversation = await session.get(Conversation, body.user_id, with_for_update=True)
        if conversation is None:
            raise not_found("conversation")
        message = _add(session, conversation, "admin", "admin", body.text)
        conversation.unread_for_user += 1
        # Whoever answers, the thread counts as read by the admins.
        conversation.unread_for_admin = 0
        await session.flush()
        await announce(session, message, Audience(user_ids=[body.user_id], admins=True))
    return _read(message)


async def history(
    ctx: SupportContext,
    caller: Principal,
    user_id: uuid.UUID | None,
    page: int,
    size: int,
    order: Literal["asc", "desc"],
) -> MessagePage:
    """A thread: clients read their own, admins anyone's."""
    if caller.is_admin:
        if user_id is None:
            raise ApiError(422, "validation_error", "admins must name the client (user_id)")
    elif user_id is not None and user_id != caller.user_id:
        raise forbidden("clients can only read their own conversation")
    target = user_id or caller.user_id
    async with ctx.uow.reads() as session:
        total = await session.scalar(
            select(func.count()).select_from(Message).where(Message.user_id == target)
        )
        sequence = Message.seq.asc() if order == "asc" else Message.seq.desc()
        rows = await session.scalars(
            select(Message)
            .where(Message.user_id == target)
            .order_by(sequence)
            .offset((page - 1) * size)
            .limit(size)
        )
        items = [_read(m) for m in rows]
    return MessagePage(items=items, total=total or 0, page=page, size=size)


async def conversations(
    ctx: SupportContext, page: int, size: int, q: str | None, unread_only: bool
) -> ConversationPage:
    """The admin inbox: newest activity first, with unread counts."""
    query = select(Conversation)
    if q:
        query = query.where(Conversation.username.ilike(f"%{_escape_like(q)}%", escape="\\"))
    if unread_only:
        query = query.where(Conversation.unread_for_admin > 0)
    async with ctx.uow.reads() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.order_by(Conversation.last_message_at.desc(), Conversation.user_id)
            .offset((page - 1) * size)
            .limit(size)
        )
        items = [_summary(c) for c in rows]
    return ConversationPage(items=items, total=total or 0, page=page, size=size)


async def own_conversation(ctx: SupportContext, client: Principal) -> ConversationRead | None:
    async with ctx.uow.reads() as session:
        conversation = await session.get(Conversation, client.user_id)
    return _summary(conversation) if conversation else None


async def mark_read(ctx: SupportContext, caller: Principal, user_id: uuid.UUID) -> None:
    """Admins clear the admin side of any thread; a client clears their own side."""
    if caller.is_admin:
        values = {"unread_for_admin": 0}
    elif user_id == caller.user_id:
        values = {"unread_for_user": 0}
    else:
        raise forbidden("clients can only mark their own conversation")
    async with ctx.uow.transaction() as session:
        result = await session.execute(
            update(Conversation).where(Conversation.user_id == user_id).values(**values)
        )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise not_found("conversation")


async def typing(
    ctx: SupportContext, caller: Principal, is_typing: bool, user_id: uuid.UUID | None
) -> None:
    """A typing indicator for the other side of the conversation."""
    if caller.is_admin:
        if user_id is None:
            raise ApiError(422, "validation_error", "admins must name the client (user_id)")
        body = ChatTyping(user_id=user_id, sender="admin", typing=is_typing)
        audience = Audience(user_ids=[user_id])
    else:
        body = ChatTyping(user_id=caller.user_id, sender="user", typing=is_typing)
        audience = Audience(admins=True)
    async with ctx.uow.transaction() as session:
        await add_ws_message(session, body, audience)


async def _open_conversation(session: AsyncSession, client: Principal) -> Conversation:
    """The client's conversation, created on the first message, locked for this update."""
    if await session.get(DeletedUser, client.user_id) is not None:
        raise forbidden("this account no longer exists")
    now = datetime.now(UTC)
    await session.execute(
        insert(Conversation)
        .values(
            user_id=client.user_id,
            username=client.username,
            last_message_at=now,
            last_message_text="",
            last_sender="user",
        )
        .on_conflict_do_nothing()
    )
    conversation = await session.get(
        Conversation, client.user_id, with_for_update=True, populate_existing=True
    )
    assert conversation is not None
    if client.username and conversation.user_revision == 0:
        conversation.username = client.username
    return conversation


def _add(
    session: AsyncSession, conversation: Conversation, sender: str, mode: str, text: str
) -> Message:
    now = datetime.now(UTC)
    message = Message(
        id=uuid.uuid4(),
        user_id=conversation.user_id,
        sender=sender,
        mode=mode,
        text=text,
        created_at=now,
    )
    session.add(message)
    conversation.last_message_at = now
    conversation.last_message_text = text[:PREVIEW_CHARS]
    conversation.last_sender = sender
    return message


def _read(message: Message) -> MessageRead:
    return MessageRead.model_validate(message)


def _summary(conversation: Conversation) -> ConversationRead:
    return ConversationRead(
        user_id=conversation.user_id,
        username=conversation.username,
        last_message=conversation.last_message_text,
        last_sender=conversation.last_sender,
        last_message_at=conversation.last_message_at,
        unread_count=conversation.unread_for_admin,
        unread_for_user=conversation.unread_for_user,
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
