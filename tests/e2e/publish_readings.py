"""Publish readings to `ems.data` as a meter would (the seeds' JSON format).

Reads a JSON list of `{device_id, timestamp, measurement_value}` on stdin; the broker, with
a login that may publish readings (the meter's), comes from EMS_AMQP_URL. Waits for the
broker's confirms, so when this exits the readings are in.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from ems.simulator.publisher import ReadingPublisher
from ems.simulator.readings import OutgoingReading


async def main() -> None:
    readings = json.load(sys.stdin)
    publisher = ReadingPublisher(os.environ["EMS_AMQP_URL"], name="e2e-meter")
    await publisher.start()
    try:
        for reading in readings:
            await publisher.publish(
                OutgoingReading(
                    str(reading["device_id"]),
                    reading["timestamp"],
                    json.dumps(reading["measurement_value"]),
                )
            )
        await publisher.drain()
    finally:
        await publisher.close()


if __name__ == "__main__":
    asyncio.run(main())
