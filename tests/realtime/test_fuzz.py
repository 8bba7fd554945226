"""Fuzzed `ems.ws` messages against a running realtime instance with a client's socket open
(issue 15): valid envelopes with any JSON in their data, near-valid and garbage ones, odd
headers, and messages from a login that is not the owner. Every valid one reaches exactly
its audience, once and as sent; every other is dead-lettered once with a reason; the
consumer is never restarted and its queue is left empty."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.common.messaging import EXCHANGE_WS, REASON_HEADER, Broker
from ems.common.messaging.topology import publishers_of
from ems.realtime.app import create_app
from ems.realtime.settings import RealtimeSettings
from tests.platform.auth import AuthServer
from tests.platform.broker import Senders, TestBroker, admin_url, queue_stats, take_all
from tests.platform.fuzz import HEADERS, JSON, NON_OBJECT, SCALARS, budget, dumps, garbage
from tests.platform.servers import serve
from tests.platform.sockets import Socket, connected

MAX_BYTES = 16 * 1024
# What the platform's services send on ems.ws (presence gossip is realtime's own business).
TYPES = ("chat.message", "chat.typing", "notify.overconsumption", "consumption.updated")
# JSON that reads back as itself (NaN is not equal to itself).
PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
WORDS = st.text(alphabet=st.characters(blacklist_categories=["Nd"]), min_size=1, max_size=20)
NOT_A_LIST = st.none() | st.booleans() | st.integers() | WORDS | st.dictionaries(WORDS, JSON)


@dataclass
class Fuzzed:
    socket: Socket
    user: uuid.UUID
    senders: Senders
    broker: Broker
    amqp_url: str
    ids: itertools.count[int] = field(default_factory=itertools.count)
    # Every fuzz id the socket must have received so far.
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def fuzzed(
    realtime_settings: RealtimeSettings,
    auth_server: AuthServer,
    module_vhost: str,
    test_broker: TestBroker,
) -> AsyncIterator[Fuzzed]:
    settings = realtime_settings.model_copy(
        update={"amqp_url": module_vhost, "broker_max_message_bytes": MAX_BYTES}
    )
    app = create_app(settings)
    senders = Senders(test_broker, module_vhost)
    async with serve(app, **settings.uvicorn_options()) as address:
        user = await auth_server.client("fuzz")
        socket = await connected(address, user.access_token)
        broker = app.state.runtime.broker
        yield Fuzzed(socket, user.id, senders, broker, module_vhost)
        await socket.close()
    await senders.close()


@dataclass
class Case:
    id: str
    type: str
    body: bytes
    headers: dict[str, Any] | None
    # None: dead-lettered; else what the socket must receive (or {} when not for it).
    delivered: dict[str, Any] | None
    forged: bool = False


def _case(data: st.DataObject, fuzzed: Fuzzed) -> Case:
    kind = data.draw(
        st.sampled_from(
            ["good"] * 4
            + ["elsewhere", "forged", "audience", "envelope", "type", "garbage", "large"]
        )
    )
    case_id = f"ws-{next(fuzzed.ids)}"
    kind_type = data.draw(st.sampled_from(TYPES))
    payload = {**data.draw(st.dictionaries(st.text(max_size=10), PLAIN, max_size=5))}
    payload["fuzz_id"] = case_id
    others = data.draw(st.lists(st.uuids(), max_size=3))
    envelope: dict[str, Any] = {
        "type": kind_type,
        "audience": {"user_ids": [str(u) for u in [fuzzed.user, *others]], "admins": False},
        "data": payload,
    }
    headers = data.draw(HEADERS)
    if kind == "good":
        return Case(case_id, kind_type, dumps(envelope), headers, {**payload, "type": kind_type})
    if kind == "elsewhere":  # valid, for other users only: nothing reaches this socket
        envelope["audience"]["user_ids"] = [str(u) for u in others]
        return Case(case_id, kind_type, dumps(envelope), headers, {})
    if kind == "forged":
        return Case(case_id, kind_type, dumps(envelope), headers, None, forged=True)
    if kind == "audience":
        part = data.draw(st.sampled_from(["user_ids", "item", "admins", "whole"]))
        if part == "user_ids":
            envelope["audience"]["user_ids"] = data.draw(NOT_A_LIST)
        elif part == "item":
            envelope["audience"]["user_ids"].append(data.draw(SCALARS.filter(_not_a_uuid)))
        elif part == "admins":
            envelope["audience"]["admins"] = data.draw(
                st.none() | st.lists(JSON, max_size=2) | st.sampled_from([0.5, 2, "maybe"])
            )
        else:
            envelope["audience"] = data.draw(NON_OBJECT)
    elif kind == "envelope":
        part = data.draw(st.sampled_from(["type", "data", "missing"]))
        if part == "type":
            envelope["type"] = data.draw(NON_OBJECT.filter(lambda v: not isinstance(v, str)))
        elif part == "data":
            envelope["data"] = data.draw(NON_OBJECT)
        else:
            del envelope[data.draw(st.sampled_from(["type", "audience", "data"]))]
    elif kind == "type":
        envelope["type"] = data.draw(st.sampled_from([t for t in TYPES if t != kind_type]))
    elif kind == "large":
        payload["pad"] = "x" * (MAX_BYTES + 1)
    else:
        return Case(case_id, kind_type, data.draw(garbage(MAX_BYTES)), headers, None)
    return Case(case_id, kind_type, dumps(envelope), headers, None)


def _not_a_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return True
    return False


async def _publish(fuzzed: Fuzzed, cases: list[Case]) -> None:
    """Each as its owner would send it (the forged ones as the broker's administrator, a
    login with every right but not the owner's), all confirmed: enqueued."""
    genuine = [c for c in cases if not c.forged]
    await asyncio.gather(
        *(
            fuzzed.senders.publish(EXCHANGE_WS, c.type, c.body, message_id=c.id, headers=c.headers)
            for c in genuine
        )
    )
    connection = await aio_pika.connect(admin_url(fuzzed.amqp_url))
    try:
        exchange = await (await connection.channel()).get_exchange(EXCHANGE_WS)
        for c in cases:
            if c.forged:
                await exchange.publish(aio_pika.Message(c.body, message_id=c.id), c.type)
    finally:
        await connection.close()


@budget(16)
@given(data=st.data())
async def test_fuzzed_ws_messages_reach_exactly_their_audience_or_are_dead_lettered(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    """If this fails, something a service (or an intruder) can put on ems.ws stops live
    delivery for everyone, reaches a socket it is not for, arrives altered or twice, or
    vanishes without a dead letter and a reason."""
    count = data.draw(st.integers(min_value=20, max_value=50), label="messages")
    cases = [_case(data, fuzzed) for _ in range(count)]
    await _publish(fuzzed, cases)
    fuzzed.expected |= {c.id: c.delivered for c in cases if c.delivered}
    # A barrier: consumed in order, so once it is on the socket everything before it was
    # handled (delivered, or dead-lettered and confirmed).
    barrier_id = f"ws-barrier-{next(fuzzed.ids)}"
    barrier = {
        "type": "chat.message",
        "audience": {"user_ids": [str(fuzzed.user)], "admins": False},
        "data": {"fuzz_id": barrier_id},
    }
    owner = publishers_of(EXCHANGE_WS, "chat.message")[0]
    await (await fuzzed.senders.as_(owner)).publish(
        EXCHANGE_WS, "chat.message", json.dumps(barrier).encode()
    )
    fuzzed.expected[barrier_id] = {"fuzz_id": barrier_id, "type": "chat.message"}
    await fuzzed.socket.wait_for("chat.message", fuzz_id=barrier_id)

    received: dict[str, list[dict[str, Any]]] = {}
    for message in fuzzed.socket.received:
        if isinstance(message, dict) and "fuzz_id" in message:
            received.setdefault(str(message["fuzz_id"]), []).append(message)
    assert set(received) == set(fuzzed.expected), "a message reached a socket it is not for"
    assert all(len(m) == 1 for m in received.values()), "a message arrived twice"
    assert {i: m[0] for i, m in received.items()} == fuzzed.expected

    connection = await aio_pika.connect(admin_url(fuzzed.amqp_url))
    try:
        dead = await take_all(await connection.channel(), ["realtime.dlq"])
    finally:
        await connection.close()
    reasons = {str(m.message_id): str(m.headers[REASON_HEADER]) for m in dead}
    assert len(dead) == len(reasons), "a message was dead-lettered twice"
    assert set(reasons) == {c.id for c in cases if c.delivered is None}
    assert all(reasons[c.id].startswith("forged") for c in cases if c.forged)
    assert fuzzed.broker.link.connects == 1, "the realtime consumer was restarted"


async def test_after_the_fuzz_the_realtime_queue_is_empty(fuzzed: Fuzzed) -> None:
    """If this fails, the fuzz left messages waiting or unacknowledged in the instance's
    queue, or it lost its consumer."""
    stats = await asyncio.to_thread(queue_stats, fuzzed.amqp_url)
    ws = [s for name, s in stats.items() if name.startswith("realtime.") and name.endswith(".ws")]
    assert ws == [(0, 0, 1)]
    assert fuzzed.broker.link.connects == 1
