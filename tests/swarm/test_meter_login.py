"""The `meter` login on the published AMQP port may publish readings to `ems.data` and
nothing else: the broker itself refuses everything else (issue 15's least privilege, as the
Swarm deployment's broker definitions grant it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from aiormq.exceptions import ChannelAccessRefused

from ems.common.messaging.topology import (
    EXCHANGE_DATA,
    EXCHANGE_SYNC,
    EXCHANGE_WS,
    partition_queue,
)
from tests.swarm.conftest import Platform

Attempt = Callable[[AbstractChannel], Awaitable[object]]


def _publish(exchange: str, key: str, body: bytes) -> Attempt:
    async def attempt(channel: AbstractChannel) -> object:
        target = await channel.get_exchange(exchange, ensure=False)
        return await target.publish(aio_pika.Message(body), routing_key=key, timeout=10)

    return attempt


def _read(queue: str) -> Attempt:
    async def attempt(channel: AbstractChannel) -> object:
        source = await channel.get_queue(queue, ensure=False)
        return await source.get(fail=False, timeout=10)

    return attempt


async def _declare(channel: AbstractChannel) -> object:
    return await channel.declare_queue(exclusive=True, timeout=10)


async def test_the_meter_login_may_publish_readings_and_nothing_else(platform: Platform) -> None:
    """If this fails, whoever holds the meters' password (every meter in the field has it)
    can do more than send readings: publish a `user.updated` that makes someone ADMIN or a
    chat message that reaches a client's socket as from "admin", or read (and so take) the
    readings of other meters from the partition queues, or make queues of its own on the
    broker. Each refusal must come from the broker (403 ACCESS_REFUSED); a reading to
    `ems.data` must still be accepted, so the refusals are not a login that does not work."""
    connection = await aio_pika.connect(platform.meter_url, timeout=30)
    try:
        channel = await connection.channel(publisher_confirms=True)
        reading = (
            b'{"device_id": "%s", "timestamp": "2026-01-01T00:00:00Z", '
            b'"measurement_value": 0}' % str(uuid.uuid4()).encode()
        )
        # An unknown device: kept aside by monitoring, never counted for anyone.
        confirmed = await _publish(EXCHANGE_DATA, f"device.{uuid.uuid4()}.reading", reading)(
            channel
        )
        assert confirmed is not None
        await channel.close()

        forged = b'{"type": "user.updated", "data": {"role": "ADMIN"}}'
        refused: dict[str, Attempt] = {
            "publish user.updated on ems.sync": _publish(EXCHANGE_SYNC, "user.updated", forged),
            "publish auth.logout on ems.sync": _publish(EXCHANGE_SYNC, "auth.logout", forged),
            "publish chat.message on ems.ws": _publish(EXCHANGE_WS, "chat.message", forged),
            "publish a non-reading key on ems.data": _publish(
                EXCHANGE_DATA, "device.x.command", reading
            ),
            "read a reading partition": _read(partition_queue(0)),
            "read another partition": _read(partition_queue(63)),
            "declare a queue of its own": _declare,
        }
        for what, attempt in refused.items():
            # A refusal closes the channel: each attempt on a channel of its own.
            channel = await connection.channel(publisher_confirms=True)
            with pytest.raises(ChannelAccessRefused):
                await attempt(channel)
            assert channel.is_closed, f"{what}: the channel should be closed by the broker"
    finally:
        await connection.close()
