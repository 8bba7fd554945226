"""Delivery to slow sockets and presence merging, without the network."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import pytest

from ems.common.messaging import Delivery, Refused
from ems.common.security import Principal
from ems.contracts.ws import Audience
from ems.realtime.consumers import handle_sync_event, handle_ws_message
from ems.realtime.sockets.connections import Connection, Hub
from ems.realtime.sockets.presence import Member, Presence
from ems.realtime.sockets.replay import Replay, parse_since
from tests.platform.polling import eventually


class FakeSocket:
    """An ASGI `send` that can be made to block, like a client whose buffer is full."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.open.wait()
        self.sent.append(message)


def _conn(socket: FakeSocket, backlog: int = 5, role: str = "CLIENT") -> Connection:
    principal = Principal(uuid.uuid4(), role, "u")  # type: ignore[arg-type]
    return Connection(socket.send, principal, backlog)


async def test_a_stuck_socket_delays_nobody_and_keeps_its_order() -> None:
    """If this fails, one client that stops reading stalls the fan-out to everyone, or
    its messages arrive out of order once it reads again."""
    stuck, fine = FakeSocket(), FakeSocket()
    stuck.open.clear()
    slow, fast = _conn(stuck), _conn(fine)
    for i in range(3):
        slow.push_text(str(i))
        fast.push_text(str(i))
    assert [m["text"] for m in fine.sent] == ["0", "1", "2"]  # at once, no task needed
    assert stuck.sent == []
    stuck.open.set()

    async def drained() -> bool:
        return len(stuck.sent) == 3

    await eventually(drained)
    assert [m["text"] for m in stuck.sent] == ["0", "1", "2"]
    slow.push_text("3")
    assert stuck.sent[-1]["text"] == "3"  # back on the fast path


async def test_a_socket_that_never_reads_is_closed_not_buffered_forever() -> None:
    """If this fails, a client that stops reading makes the server's memory grow without
    bound."""
    stuck = FakeSocket()
    stuck.open.clear()
    slow = _conn(stuck, backlog=5)
    for i in range(50):
        slow.push_text(str(i))
    assert slow.closed
    stuck.open.set()

    async def closed() -> bool:
        return bool(stuck.sent) and stuck.sent[-1]["type"] == "websocket.close"

    await eventually(closed)
    assert stuck.sent[-1]["code"] == 1013
    assert len(stuck.sent) <= 6


async def test_the_hub_delivers_to_the_audience_only() -> None:
    """If this fails, the audience rules (user ids, admins) leak messages."""
    hub = Hub()
    sockets = [FakeSocket() for _ in range(3)]
    client_a, client_b = _conn(sockets[0]), _conn(sockets[1])
    admin = _conn(sockets[2], role="ADMIN")
    for conn in (client_a, client_b, admin):
        hub.add(conn)
    assert hub.deliver(Audience(user_ids=[client_a.user_id]), "a") == 1
    assert hub.deliver(Audience(admins=True), "admins") == 1
    assert hub.deliver(Audience(user_ids=[client_b.user_id, admin.user_id], admins=True), "b") == 2
    assert hub.deliver(Audience(user_ids=[uuid.uuid4()]), "nobody") == 0
    assert [m["text"] for m in sockets[0].sent] == ["a"]
    assert [m["text"] for m in sockets[1].sent] == ["b"]
    assert [m["text"] for m in sockets[2].sent] == ["admins", "b"]
    hub.remove(client_a)
    assert hub.deliver(Audience(user_ids=[client_a.user_id]), "gone") == 0


async def test_presence_is_merged_across_instances() -> None:
    """If this fails, admins see a user offline while another instance still holds the
    user's socket, or a crashed instance's users stay online forever."""
    seen: dict[str, list[tuple[uuid.UUID, bool]]] = {"a": [], "b": []}
    instances: dict[str, Presence] = {}

    def wire(name: str, other: str) -> Presence:
        async def publish(data: dict[str, Any]) -> None:
            instances[other].apply(data)

        def notify(user_id: uuid.UUID, member: Member, online: bool) -> None:
            seen[name].append((user_id, online))

        return Presence(name, publish, notify, interval=10.0, flush=0.01)

    instances["a"], instances["b"] = wire("a", "b"), wire("b", "a")
    a, b = instances["a"], instances["b"]
    user = uuid.uuid4()
    a.went_online(user, Member("ana", "CLIENT"))
    await a._send({"kind": "delta", "online": [[str(user), "ana", "CLIENT"]], "offline": []})
    assert seen["b"] == [(user, True)]
    b.went_online(user, Member("ana", "CLIENT"))  # a second tab, on the other instance
    a.went_offline(user)
    await a._send({"kind": "delta", "online": [], "offline": [str(user)]})
    assert seen["b"] == [(user, True)]  # still online on b itself
    assert a.member(user) is None
    await b._send_snapshot()
    assert a.member(user) == Member("ana", "CLIENT")
    b.expire(now=time.monotonic())
    a.expire(now=time.monotonic() + 31)  # b not heard from for three intervals
    assert a.member(user) is None and seen["a"][-1] == (user, False)


def test_replay_keeps_recent_alerts_per_user_and_for_admins() -> None:
    """If this fails, a reconnecting client gets someone else's messages, or too old ones."""
    replay = Replay(keep_seconds=60, per_user=2)
    ana, bob = uuid.uuid4(), uuid.uuid4()
    replay.record("notify.overconsumption", Audience(user_ids=[ana], admins=True), "a1", now=100)
    replay.record("chat.message", Audience(user_ids=[bob]), "b1", now=101)
    replay.record("chat.typing", Audience(user_ids=[ana]), "typing", now=102)
    replay.record("chat.message", Audience(user_ids=[ana]), "a2", now=103)
    replay.record("chat.message", Audience(user_ids=[ana]), "a3", now=104)
    assert replay.since(ana, False, 0) == ["a2", "a3"]  # two per user, never typing
    assert replay.since(ana, False, 103) == ["a3"]
    assert replay.since(bob, True, 0) == ["a1", "b1"]
    replay.prune(now=163.5)
    assert replay.since(ana, False, 0) == ["a3"]
    assert parse_since("2026-01-01T00:00:00Z") == 1767225600.0
    assert parse_since(1767225600000) == 1767225600.0
    assert parse_since("2026-01-01T00:00:00") is None


async def test_the_gc_policy_freezes_and_runs_full_collections() -> None:
    """If this fails, long-lived sockets are walked by every collection again (pauses of
    seconds at 10,000 sockets), or cyclic garbage is never collected."""
    import gc

    from ems.realtime.sockets.gcpolicy import keep_collections_short

    gc.unfreeze()
    task = asyncio.create_task(keep_collections_short(0.01, 0.02))

    async def frozen() -> bool:
        return gc.get_freeze_count() > 0

    await eventually(frozen)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    gc.unfreeze()


def _message(body: bytes, routing_key: str) -> Delivery:
    nowhere: Any = None
    return Delivery(body, "ems.ws", routing_key, None, {}, None, None, False, nowhere, 1)


async def test_a_message_whose_type_is_not_its_routing_key_is_refused() -> None:
    """If this fails, a service allowed to send one message type (or event) can have the
    sockets told another: the sender is checked by the routing key only."""
    ws = b'{"type": "notify.alert", "audience": {"admins": true}, "data": {}}'
    with pytest.raises(Refused) as refused:
        await handle_ws_message(None, _message(ws, "chat.message"))  # type: ignore[arg-type]
    assert str(refused.value) == "message type 'notify.alert' sent as 'chat.message'"
    event = b'{"type": "user.deleted", "data": {}}'
    with pytest.raises(Refused) as refused:
        await handle_sync_event(None, _message(event, "user.updated"))  # type: ignore[arg-type]
    assert str(refused.value) == "event type 'user.deleted' sent as 'user.updated'"
