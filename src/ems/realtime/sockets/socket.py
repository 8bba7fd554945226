"""`/ws`: a plain ASGI WebSocket endpoint (no per-socket objects beyond the `Connection`).

Authentication: `?token=<JWT>` (what the gateway checks too), or, without it, a first
message `{"type": "auth", "token": ...}` within `auth_timeout_seconds`. The token is
verified here, whatever the gateway did. An open socket closes with 4401 when its token
expires unless the client sent a fresh one (`{"type": "auth"}` again, same user).

Client messages: `ping` (answered `pong`), `auth`, `resume` (`{"since": ...}`: replay what
arrived meanwhile, see replay.py) and `chat.typing` (`{"typing": bool}`; an admin adds the
client's `user_id`), relayed to the other side of the conversation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.types import Receive, Scope, Send

from ems.common.revocations import RevocationsUnknown, SessionEnded
from ems.common.security import InvalidToken, Principal
from ems.contracts.ws import Audience, ChatTyping, WsEnvelope
from ems.realtime.service import RealtimeContext
from ems.realtime.sockets.connections import (
    CLOSE_BAD_MESSAGE,
    CLOSE_BAD_TOKEN,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN,
    CLOSE_UNSUPPORTED,
    CLOSE_USER_DELETED,
    Connection,
)
from ems.realtime.sockets.replay import parse_since

log = logging.getLogger(__name__)


class RealtimeSocket:
    """The ASGI app mounted at `/ws`."""

    def __init__(self, ctx: RealtimeContext) -> None:
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        if not origin_allowed(scope, self.ctx.settings.allowed_origins):
            # Before accept, a close is a 403 answer to the handshake.
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        token = query_token(scope)
        if token is None:
            token = await self._token_message(receive, send)
            if token is None:
                return
        verified = await self._verify(token, send)
        if verified is None:
            return
        principal, expires_at = verified
        conn = Connection(send, principal, self.ctx.settings.slow_client_backlog)
        self._expire_at(conn, expires_at)
        self.ctx.hub.add(conn)
        try:
            if conn.is_admin:
                conn.push_text(self.ctx.presence_snapshot_text())
            conn.push_text(
                json.dumps({"type": "welcome", "user_id": str(conn.user_id), "role": conn.role})
            )
            await self._serve(conn, receive)
        finally:
            self.ctx.hub.remove(conn)
            if conn.expiry is not None:
                conn.expiry.cancel()

    async def _serve(self, conn: Connection, receive: Receive) -> None:
        limit = self.ctx.settings.max_message_bytes
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                conn.close(CLOSE_UNSUPPORTED, "binary frames are not supported")
                continue
            if len(text) > limit or len(text.encode()) > limit:
                conn.close(CLOSE_TOO_BIG, f"messages are limited to {limit} bytes")
                continue
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                conn.close(CLOSE_BAD_MESSAGE, "messages are JSON objects with a type")
                continue
            await self._handle(conn, data)

    async def _handle(self, conn: Connection, data: dict[str, Any]) -> None:
        kind = data["type"]
        if kind == "ping":
            conn.push_text('{"type":"pong"}')
        elif kind == "auth":
            await self._refresh(conn, data.get("token"))
        elif kind == "chat.typing":
            await self._typing(conn, data)
        elif kind == "resume":
            self._resume(conn, data.get("since"))
        else:
            conn.push_text(
                json.dumps(
                    {"type": "error", "code": "unknown_type", "message": f"unknown type {kind!r}"}
                )
            )

    # --- authentication -------------------------------------------------------------------
    async def _token_message(self, receive: Receive, send: Send) -> str | None:
        try:
            async with asyncio.timeout(self.ctx.settings.auth_timeout_seconds):
                message = await receive()
        except TimeoutError:
            await send({"type": "websocket.close", "code": CLOSE_BAD_TOKEN, "reason": "no token"})
            return None
        if message["type"] == "websocket.disconnect":
            return None
        try:
            data = json.loads(message.get("text") or "")
        except ValueError:
            data = None
        token = data.get("token") if isinstance(data, dict) and data.get("type") == "auth" else None
        if not isinstance(token, str):
            await send({"type": "websocket.close", "code": CLOSE_BAD_TOKEN, "reason": "no token"})
            return None
        return token

    async def _verify(self, token: str, send: Send) -> tuple[Principal, float] | None:
        try:
            principal, expires_at = await verify_token(self.ctx, token)
        except (InvalidToken, SessionEnded, RevocationsUnknown) as refused:
            code, reason = refusal(refused)
            await send({"type": "websocket.close", "code": code, "reason": reason})
            return None
        if self.ctx.is_deleted(principal.user_id):
            await send(
                {"type": "websocket.close", "code": CLOSE_USER_DELETED, "reason": "user deleted"}
            )
            return None
        return principal, expires_at

    async def _refresh(self, conn: Connection, token: object) -> None:
        """A fresh token for the same user and role keeps the socket open past the old
        token's expiry; anything else closes it with 4401."""
        try:
            if not isinstance(token, str):
                raise InvalidToken("no token")
            principal, expires_at = await verify_token(self.ctx, token)
        except (InvalidToken, SessionEnded, RevocationsUnknown) as refused:
            conn.close(*refusal(refused))
            return
        if principal.user_id != conn.user_id or principal.role != conn.role:
            conn.close(CLOSE_BAD_TOKEN, "token is for another user or role")
            return
        conn.session_id, conn.version = principal.session_id, principal.version
        self._expire_at(conn, expires_at)
        conn.push_text('{"type":"auth.ok"}')

    def _expire_at(self, conn: Connection, expires_at: float) -> None:
        if conn.expiry is not None:
            conn.expiry.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, expires_at - time.time())
        conn.expiry = loop.call_later(delay, conn.close, CLOSE_BAD_TOKEN, "token expired")

    def _resume(self, conn: Connection, since: object) -> None:
        after = parse_since(since)
        if after is None:
            conn.push_text(
                '{"type":"error","code":"bad_request","message":"since: ISO time or epoch ms"}'
            )
            return
        texts = self.ctx.replay.since(conn.user_id, conn.is_admin, after)
        for text in texts:
            conn.push_text(text)
        conn.push_text(json.dumps({"type": "resume.done", "count": len(texts)}))

    # --- typing ---------------------------------------------------------------------------
    async def _typing(self, conn: Connection, data: dict[str, Any]) -> None:
        if not self._typing_allowed(conn):
            return
        typing = bool(data.get("typing", True))
        if conn.is_admin:
            try:
                client = uuid.UUID(str(data.get("user_id")))
            except ValueError:
                conn.push_text(
                    '{"type":"error","code":"bad_request","message":"user_id is required"}'
                )
                return
            body = ChatTyping(user_id=client, sender="admin", typing=typing)
            audience = Audience(user_ids=[client])
        else:
            body = ChatTyping(user_id=conn.user_id, sender="user", typing=typing)
            audience = Audience(admins=True)
        try:
            await self.ctx.publish(WsEnvelope.wrap(body, audience))
        except Exception:
            # A typing indicator is best effort; the socket stays up.
            log.warning("typing event not published", exc_info=True)

    def _typing_allowed(self, conn: Connection) -> bool:
        """Token bucket per socket: a burst, then `typing_per_second`."""
        settings = self.ctx.settings
        now = time.monotonic()
        conn.typing_tokens = min(
            float(settings.typing_burst),
            conn.typing_tokens + (now - conn.typing_at) * settings.typing_per_second
            if conn.typing_at
            else float(settings.typing_burst),
        )
        conn.typing_at = now
        if conn.typing_tokens < 1.0:
            return False
        conn.typing_tokens -= 1.0
        return True


async def verify_token(ctx: RealtimeContext, token: str) -> tuple[Principal, float]:
    """The verified caller and when the token expires (epoch seconds)."""
    principal = await ctx.verifier.verify(token)
    return principal, principal.expires_at


def refusal(refused: Exception) -> tuple[int, str]:
    """The close code for a token the socket cannot take: 4401 (the client refreshes and
    comes back), 4403 for a deleted user, 1013 when revocations are unknown for now."""
    if isinstance(refused, SessionEnded):
        if refused.revocation.reason == "deleted":
            return CLOSE_USER_DELETED, "user deleted"
        return CLOSE_BAD_TOKEN, f"session ended ({refused.revocation.reason})"
    if isinstance(refused, RevocationsUnknown):
        return CLOSE_TRY_AGAIN, "authentication unavailable; try again"
    return CLOSE_BAD_TOKEN, "invalid token"


def query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values and values[0] else None


def origin_allowed(scope: Scope, allowed: list[str]) -> bool:
    """No Origin (not a browser), the page's own host, or an origin listed in settings."""
    headers = dict(scope.get("headers", []))
    origin = headers.get(b"origin")
    if origin is None:
        return True
    value = origin.decode("latin-1").rstrip("/")
    if value in allowed:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    return bool(host) and urlsplit(value).netloc == host
