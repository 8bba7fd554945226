"""The aiormq and pamqp internals the batched publisher (ems.common.messaging.publisher)
builds on, pinned against a real broker: an upgrade that renames or changes one fails here,
not as lost confirms in production."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import aiormq
import pytest
from aiormq.abc import AbstractChannel, ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from ems.common.messaging import EXCHANGE_SYNC
from ems.common.messaging.publisher import BatchPublisher, properties
from ems.common.messaging.topology import DEVICES
from tests.platform.broker import TestBroker, probe
from tests.platform.polling import eventually


@pytest.fixture
async def channel(module_vhost: str, test_broker: TestBroker) -> AsyncIterator[AbstractChannel]:
    """A confirm-mode channel logged in as the devices service."""
    connection = await aiormq.connect(test_broker.url(module_vhost, DEVICES))
    yield await connection.channel(publisher_confirms=True)
    await connection.close()


def test_the_versions_and_names_the_publisher_was_written_against() -> None:
    """If this fails, aiormq or pamqp moved past what the batched publisher was checked
    with: read the checks below against the new version before raising the bounds in
    pyproject.toml."""
    # The bounds declared in pyproject.toml.
    assert version("aiormq").startswith("7.")
    assert version("pamqp").startswith("4.")
    marshall = inspect.signature(ChannelFrame.marshall)
    assert {"channel_number", "frames"} <= set(marshall.parameters)
    assert {"properties", "body_size"} <= set(inspect.signature(ContentHeader).parameters)
    assert "user_id" in inspect.signature(spec.Basic.Properties).parameters


async def test_the_channel_state_the_publisher_drives(channel: AbstractChannel) -> None:
    """If this fails, the publisher counts delivery tags, registers confirmations or queues
    frames where aiormq no longer looks: publishes would never be confirmed (or be
    confirmed wrongly)."""
    state: object = channel
    assert isinstance(state.delivery_tag, int)  # type: ignore[attr-defined]
    assert isinstance(state.confirmations, dict)  # type: ignore[attr-defined]
    assert isinstance(state.write_queue, asyncio.Queue)  # type: ignore[attr-defined]
    assert isinstance(state.max_content_size, int)  # type: ignore[attr-defined]
    assert isinstance(channel.number, int)
    assert asyncio.isfuture(channel.create_future())


async def test_a_batch_in_one_write_is_confirmed_and_arrives_whole_and_in_order(
    channel: AbstractChannel, module_vhost: str, test_broker: TestBroker
) -> None:
    """If this fails, batched publishing loses, reorders or mangles messages (a body split
    over frames, the properties), or its confirms never resolve."""
    publisher = BatchPublisher(channel)
    # Small content frames: a body goes out in several, as a large one would.
    channel.max_content_size = 1000  # type: ignore[attr-defined]
    login = test_broker.login(DEVICES)
    bodies = [f"{i:05d}".encode() * (1 + i % 900) for i in range(1500)]
    async with probe(module_vhost, (EXCHANGE_SYNC, "device.pinned")) as queue:
        confirms = [
            publisher.publish(
                body,
                exchange=EXCHANGE_SYNC,
                routing_key="device.pinned",
                properties=properties(
                    login, message_id=str(i), headers={"x-ems-test": i}, persistent=False
                ),
            )
            for i, body in enumerate(bodies)
        ]
        await asyncio.wait_for(asyncio.gather(*confirms), 30)
        received = []

        async def all_arrived() -> bool:
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                received.append(message)
            return len(received) >= len(bodies)

        await eventually(all_arrived, timeout=30, what="every message published arriving")
    assert [m.body for m in received] == bodies
    assert [m.message_id for m in received] == [str(i) for i in range(len(bodies))]
    assert all(m.user_id == login for m in received)
    assert [m.headers["x-ems-test"] for m in received] == list(range(len(bodies)))


async def test_a_publish_the_broker_refuses_fails_its_confirm(channel: AbstractChannel) -> None:
    """If this fails, a message the broker refused (here: to an exchange that does not
    exist, which closes the channel) leaves its sender waiting forever instead of failing,
    and the outbox would never try again."""
    publisher = BatchPublisher(channel)
    refused = publisher.publish(
        b"{}",
        exchange=f"no-such-exchange-{uuid.uuid4().hex[:6]}",
        routing_key="x",
        properties=properties("nobody", persistent=False),
    )
    with pytest.raises(aiormq.exceptions.AMQPError):
        await asyncio.wait_for(refused, 10)
    assert channel.is_closed
    after = publisher.publish(
        b"{}", exchange=EXCHANGE_SYNC, routing_key="x", properties=properties("nobody")
    )
    with pytest.raises(ChannelInvalidStateError):
        await asyncio.wait_for(after, 1)


def test_frames_are_built_from_pamqp_as_aiormq_writes_them() -> None:
    """If this fails, pamqp's frame classes changed: the marshalled batch would not be
    the bytes aiormq itself sends for a publish."""
    frames: list[Any] = [
        spec.Basic.Publish(exchange="ems.sync", routing_key="device.x"),
        ContentHeader(properties=properties("u"), body_size=3),
        ContentBody(b"abc"),
    ]
    payload = ChannelFrame.marshall(channel_number=1, frames=frames)
    raw = payload.payload
    assert isinstance(raw, bytes) and b"device.x" in raw and raw.endswith(b"abc\xce")
