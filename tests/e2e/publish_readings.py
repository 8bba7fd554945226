"""Publish readings to `ems.data` as any AMQP client would (the seeds' JSON format).

Reads a JSON list of `{device_id, timestamp, measurement_value}` on stdin; the broker comes
from EMS_AMQP_URL. Waits for the broker's confirms, so when this exits the readings are in.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aio_pika

BATCH = 500


async def main() -> None:
    readings = json.load(sys.stdin)
    url = os.environ.get("EMS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            "ems.data", aio_pika.ExchangeType.TOPIC, durable=True, passive=True
        )
        # Confirms are awaited a batch at a time: one round trip per reading would make a
        # month of demo readings take half a minute.
        for first in range(0, len(readings), BATCH):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            json.dumps(reading).encode(),
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=f"device.{reading['device_id']}.reading",
                    )
                    for reading in readings[first : first + BATCH]
                )
            )


if __name__ == "__main__":
    asyncio.run(main())
