"""The support API against real PostgreSQL, RabbitMQ and real tokens."""

from __future__ import annotations

import dataclasses
import socket
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ems.common.errors import ApiError
from ems.contracts.events import UserDeleted, UserUpdated
from ems.support.assistant.answers import UNAVAILABLE_ANSWER
from ems.support.assistant.bot import HANDOFF_ANSWER
from ems.support.assistant.figures import ConsumptionApi
from ems.support.assistant.llm import LlmClient
from ems.support.models import processed
from ems.support.throttle import MessageThrottle
from tests.platform.auth import AuthServer, Login
from tests.platform.broker import Senders, publish_event
from tests.platform.polling import eventually
from tests.support.conftest import LlmServer, Support


async def _inbox_row(support: Support, admin: Login, user: Login) -> dict[str, object] | None:
    response = await support.http.get(
        "/api/support/conversations", params={"size": 200}, headers=support.as_(admin)
    )
    assert response.status_code == 200, response.text
    for item in response.json()["items"]:
        if item["user_id"] == str(user.id):
            row: dict[str, object] = item
            return row
    return None


async def _handled(support: Support, *event_ids: uuid.UUID) -> bool:
    """Whether support's consumer has handled all these events."""
    async with support.context.uow.reads() as session:
        found = await session.scalars(
            select(processed.c.event_id).where(processed.c.event_id.in_(event_ids))
        )
        return len(set(found)) == len(event_ids)


async def test_a_rule_answers_in_bot_mode_and_both_messages_are_kept(
    support: Support, auth_server: AuthServer
) -> None:
    """If this fails, the bot does not answer, answers as the wrong sender, or the chat
    is lost on reload (the seeds kept it in memory)."""
    client = await auth_server.client()
    response = await support.http.post(
        "/api/support/messages",
        json={"text": "hi, I forgot my password", "mode": "bot"},
        headers=support.as_(client),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"]["sender"] == "user" and body["message"]["user_id"] == str(client.id)
    assert body["reply"]["sender"] == "bot" and "password" in body["reply"]["text"].lower()
    assert set(body["message"]) == {"id", "user_id", "sender", "text", "created_at"}
    history = await support.http.get("/api/support/history", headers=support.as_(client))
    assert history.status_code == 200
    page = history.json()
    assert page["total"] == 2 and page["page"] == 1
    assert [m["sender"] for m in page["items"]] == ["user", "bot"]
    latest = await support.http.get(
        "/api/support/history", params={"order": "desc", "size": 1}, headers=support.as_(client)
    )
    assert latest.json()["items"][0]["sender"] == "bot"


async def test_no_rule_and_no_llm_hands_over_to_the_admins(
    support: Support, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, an unanswerable question gets an error text or silence, and no admin
    ever sees it."""
    client = await auth_server.client()
    response = await support.http.post(
        "/api/support/messages",
        json={"text": "Is the sky blue in Cluj?", "mode": "bot"},
        headers=support.as_(client),
    )
    assert response.status_code == 200
    reply = response.json()["reply"]
    assert reply["sender"] == "bot" and reply["text"] == HANDOFF_ANSWER
    row = await _inbox_row(support, admin_login, client)
    assert row is not None and row["unread_count"] == 1


async def test_admin_mode_inbox_reply_and_read_marks(
    support: Support, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, the admin inbox misses messages, shows wrong unread counts or
    order, or a reply reaches the wrong client."""
    first, second = await auth_server.client("first"), await auth_server.client("second")
    for client, text in ((first, "my meter is broken"), (second, "please call me")):
        response = await support.http.post(
            "/api/support/messages",
            json={"text": text, "mode": "admin"},
            headers=support.as_(client),
        )
        assert response.status_code == 200 and response.json()["reply"] is None
    await support.http.post(
        "/api/support/messages",
        json={"text": "and it beeps", "mode": "admin"},
        headers=support.as_(first),
    )
    inbox = await support.http.get("/api/support/conversations", headers=support.as_(admin_login))
    items = inbox.json()["items"]
    order = [i["user_id"] for i in items]
    assert order.index(str(first.id)) < order.index(str(second.id))  # newest activity first
    row = next(i for i in items if i["user_id"] == str(first.id))
    assert row["unread_count"] == 2 and row["last_message"] == "and it beeps"
    assert row["username"] == first.username

    reply = await support.http.post(
        "/api/support/admin/reply",
        json={"user_id": str(first.id), "text": "A technician is on the way."},
        headers=support.as_(admin_login),
    )
    assert reply.status_code == 201 and reply.json()["sender"] == "admin"
    mine = (await support.http.get("/api/support/history", headers=support.as_(first))).json()
    assert mine["items"][-1]["text"] == "A technician is on the way."
    theirs = (await support.http.get("/api/support/history", headers=support.as_(second))).json()
    assert all(m["sender"] != "admin" for m in theirs["items"])
    own = await support.http.get("/api/support/conversations/me", headers=support.as_(first))
    assert own.json()["unread_for_user"] == 1
    assert (
        await support.http.post(
            f"/api/support/conversations/{first.id}/read", headers=support.as_(first)
        )
    ).status_code == 204
    own = await support.http.get("/api/support/conversations/me", headers=support.as_(first))
    assert own.json()["unread_for_user"] == 0

    assert (
        await support.http.post(
            f"/api/support/conversations/{second.id}/read", headers=support.as_(admin_login)
        )
    ).status_code == 204
    row2 = await _inbox_row(support, admin_login, second)
    assert row2 is not None and row2["unread_count"] == 0
    unread = await support.http.get(
        "/api/support/conversations",
        params={"unread_only": True, "q": second.username},
        headers=support.as_(admin_login),
    )
    assert unread.json()["total"] == 0
    any_history = await support.http.get(
        "/api/support/history", params={"user_id": str(second.id)}, headers=support.as_(admin_login)
    )
    assert [m["text"] for m in any_history.json()["items"]] == ["please call me"]


async def test_bad_input_and_wrong_roles_are_refused(
    support: Support, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, a client can answer as an admin, read someone else's chat, or
    store empty or huge messages."""
    client, other = await auth_server.client(), await auth_server.client()
    as_client = support.as_(client)
    for text in ("", "   ", "x" * 2001):
        response = await support.http.post(
            "/api/support/messages", json={"text": text, "mode": "bot"}, headers=as_client
        )
        assert response.status_code == 422, text[:10]
        assert response.json()["error"]["code"] == "validation_error"
    bad_mode = await support.http.post(
        "/api/support/messages", json={"text": "hi", "mode": "boss"}, headers=as_client
    )
    assert bad_mode.status_code == 422
    await support.http.post(
        "/api/support/messages",
        json={"text": "secret", "mode": "admin"},
        headers=support.as_(other),
    )
    checks = [
        ("post", "/api/support/admin/reply", {"user_id": str(other.id), "text": "gotcha"}, 403),
        ("get", f"/api/support/history?user_id={other.id}", None, 403),
        ("get", "/api/support/conversations", None, 403),
        ("post", f"/api/support/conversations/{other.id}/read", None, 403),
    ]
    for method, url, body, status in checks:
        response = await support.http.request(method, url, json=body, headers=as_client)
        assert response.status_code == status, (url, response.text)
    as_admin = support.as_(admin_login)
    admin_post = await support.http.post(
        "/api/support/messages", json={"text": "hello", "mode": "bot"}, headers=as_admin
    )
    assert admin_post.status_code == 403
    nobody = await support.http.post(
        "/api/support/admin/reply",
        json={"user_id": str(uuid.uuid4()), "text": "?"},
        headers=as_admin,
    )
    assert nobody.status_code == 404
    long_reply = await support.http.post(
        "/api/support/admin/reply",
        json={"user_id": str(other.id), "text": "y" * 2001},
        headers=as_admin,
    )
    assert long_reply.status_code == 422
    anonymous = await support.http.get("/api/support/history")
    assert anonymous.status_code == 401
    spoofed = await support.http.get(
        "/api/support/conversations", headers={"X-User-Id": str(other.id), "X-User-Role": "ADMIN"}
    )
    assert spoofed.status_code == 401


async def test_a_deleted_users_conversation_is_removed(
    support: Support, auth_server: AuthServer, admin_login: Login, senders: Senders
) -> None:
    """If this fails, a deleted user's chat history stays in the inbox (the spec says
    deleting a user removes their conversations), or their old token starts a new one."""
    client = await auth_server.client()
    await support.http.post(
        "/api/support/messages",
        json={"text": "delete me", "mode": "admin"},
        headers=support.as_(client),
    )
    assert await _inbox_row(support, admin_login, client) is not None
    event = UserDeleted(id=client.id, revision=3)
    await publish_event(senders, event)
    await publish_event(senders, event)  # a repeat changes nothing

    async def gone() -> bool:
        return await _inbox_row(support, admin_login, client) is None

    await eventually(gone)
    history = await support.http.get(
        "/api/support/history",
        params={"user_id": str(client.id)},
        headers=support.as_(admin_login),
    )
    assert history.json()["total"] == 0
    again = await support.http.post(
        "/api/support/messages",
        json={"text": "still here?", "mode": "bot"},
        headers=support.as_(client),
    )
    # Refused either way: 403 by support's tombstone, or 401 once auth (which handles the
    # same event) has revoked the deleted user's sessions and support has polled that.
    assert again.status_code in (401, 403), again.text


async def test_a_renamed_user_shows_the_new_name_in_the_inbox(
    support: Support, auth_server: AuthServer, admin_login: Login, senders: Senders
) -> None:
    """If this fails, admins see stale usernames, or an old event undoes a newer one."""
    client = await auth_server.client()
    await support.http.post(
        "/api/support/messages",
        json={"text": "rename", "mode": "admin"},
        headers=support.as_(client),
    )
    newer = await publish_event(
        senders, UserUpdated(id=client.id, username="renamed", role="CLIENT", revision=4)
    )
    older = await publish_event(
        senders, UserUpdated(id=client.id, username="older", role="CLIENT", revision=3)
    )
    # The barrier: both events handled (the consumer commits each id with its writes), so a
    # late overwrite by the older one has happened by now if it happens at all.
    await eventually(lambda: _handled(support, newer.event_id, older.event_id))
    row = await _inbox_row(support, admin_login, client)
    assert row is not None
    assert row["username"] == "renamed"


async def _timed_ask(
    support: Support, client: Login, text: str, **changes: Any
) -> tuple[httpx.Response, float]:
    """A question in bot mode, with parts of the support context swapped for it alone; the
    answer and how long it took."""
    ctx = support.context
    support.context = dataclasses.replace(ctx, **changes)
    try:
        started = time.monotonic()
        response = await support.http.post(
            "/api/support/messages",
            json={"text": text, "mode": "bot"},
            headers=support.as_(client),
        )
        return response, time.monotonic() - started
    finally:
        support.context = ctx


async def _ask_with_llm(
    support: Support, client: Login, llm_server: LlmServer, model: str, timeout: float = 5.0
) -> tuple[dict[str, object], float]:
    settings = support.settings.model_copy(
        update={
            "support_llm_base_url": llm_server.base_url,
            "support_llm_model": model,
            "support_llm_api_key": "test-key",
            "support_llm_timeout_seconds": timeout,
        }
    )
    async with httpx.AsyncClient() as http:
        response, elapsed = await _timed_ask(
            support, client, "Why is the sky blue?", llm=LlmClient(settings, http)
        )
    assert response.status_code == 200, response.text
    reply: dict[str, object] = response.json()["reply"]
    return reply, elapsed


async def test_the_llm_answers_what_no_rule_does(
    support: Support, auth_server: AuthServer, llm_server: LlmServer
) -> None:
    """If this fails, the LLM fallback is not called, its answer is not marked as the AI's,
    or (monitoring being unreachable here) the model is not told that the user's figures
    cannot be read, and might make some up."""
    client = await auth_server.client()
    before = len(llm_server.requests)
    reply, _ = await _ask_with_llm(support, client, llm_server, "answer")
    assert reply["sender"] == "ai" and reply["text"] == "AI says: Why is the sky blue?"
    sent = llm_server.requests[before]
    assert sent["authorization"] == "Bearer test-key"
    messages = sent["body"]["messages"]
    # A new client: no earlier messages, so the prompt, the figures note and the question.
    assert [m["role"] for m in messages] == ["system", "system", "user"]
    assert "EMS" in messages[0]["content"]
    assert messages[1]["content"] == "The user's own figures cannot be read right now."
    assert messages[2]["content"] == "Why is the sky blue?"


async def test_an_llm_error_or_garbage_gives_the_polite_handoff(
    support: Support, auth_server: AuthServer, llm_server: LlmServer
) -> None:
    """If this fails, users see an error text (or a 500) when the LLM endpoint breaks."""
    client = await auth_server.client()
    for model in ("fail", "garbage"):
        reply, _ = await _ask_with_llm(support, client, llm_server, model)
        assert reply["sender"] == "bot" and reply["text"] == HANDOFF_ANSWER, model


async def test_a_hanging_llm_gives_the_handoff_within_the_timeout(
    support: Support, auth_server: AuthServer, llm_server: LlmServer
) -> None:
    """If this fails, a slow LLM endpoint makes the user wait forever."""
    client = await auth_server.client()
    reply, elapsed = await _ask_with_llm(support, client, llm_server, "hang", timeout=1.0)
    assert reply["sender"] == "bot" and reply["text"] == HANDOFF_ANSWER
    assert elapsed < 2.5


async def test_a_client_flooding_the_chat_is_slowed_down(
    support: Support, auth_server: AuthServer
) -> None:
    """If this fails, one client can flood the admins' inbox or run up the LLM bill."""
    client, other = await auth_server.client(), await auth_server.client()
    statuses = []
    for i in range(support.settings.support_messages_burst + 1):
        response = await support.http.post(
            "/api/support/messages",
            json={"text": f"hello {i}", "mode": "admin"},
            headers=support.as_(client),
        )
        statuses.append(response.status_code)
    assert statuses[:-1] == [200] * support.settings.support_messages_burst
    assert statuses[-1] == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "too_many_messages"
    unaffected = await support.http.post(
        "/api/support/messages", json={"text": "hi", "mode": "bot"}, headers=support.as_(other)
    )
    assert unaffected.status_code == 200


def test_the_message_bucket_refills_over_time() -> None:
    """If this fails, a throttled client stays locked out, or the limit never applies."""
    throttle, user = MessageThrottle(per_minute=60, burst=2), uuid.uuid4()
    throttle.check(user, now=0.0)
    throttle.check(user, now=0.0)
    with pytest.raises(ApiError) as refused:
        throttle.check(user, now=0.5)
    assert refused.value.status == 429
    throttle.check(user, now=1.6)  # one message per second came back
    MessageThrottle(per_minute=0, burst=0).check(user)  # 0 turns it off


async def test_figures_questions_get_a_polite_answer_when_monitoring_is_down(
    support: Support, auth_server: AuthServer
) -> None:
    """If this fails, a question about one's own figures answers with an error (or a 500)
    while monitoring cannot be reached, instead of saying so politely."""
    client = await auth_server.client()
    for question in ("How much did I consume today?", "When was my peak?", "Any alerts?"):
        response = await support.http.post(
            "/api/support/messages",
            json={"text": question, "mode": "bot"},
            headers=support.as_(client),
        )
        assert response.status_code == 200, response.text
        reply = response.json()["reply"]
        assert reply["sender"] == "bot" and reply["text"] == UNAVAILABLE_ANSWER, question


async def test_a_hanging_monitoring_gets_the_polite_answer_within_the_timeout(
    support: Support, auth_server: AuthServer
) -> None:
    """If this fails, a monitoring service that accepts connections but never answers keeps
    the user waiting (beyond the assistant's hard limit) or ends in an error."""
    # A listening socket nobody accepts on: the kernel completes the connection and takes
    # the request, and no answer ever comes.
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    port = listener.getsockname()[1]
    client = await auth_server.client()
    async with httpx.AsyncClient() as http:
        try:
            figures = ConsumptionApi(http, f"http://127.0.0.1:{port}", timeout=1.0)
            response, elapsed = await _timed_ask(
                support, client, "how much did I use this week?", figures=figures
            )
        finally:
            listener.close()
    assert response.status_code == 200, response.text
    assert response.json()["reply"]["text"] == UNAVAILABLE_ANSWER
    # The limit ended it (a refused connection would have answered at once).
    assert 1.0 <= elapsed < 3.0, elapsed
