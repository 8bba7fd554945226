"""How readings travel from `ems.data` to the monitoring replicas.

Publishers (any AMQP client, the simulator) send to `ems.data` with the routing key
`device.<id>.reading`; one raw queue takes them all; the load balancer forwards each one, as
is, to the ingest queue of one monitoring replica through the default exchange.
"""

from __future__ import annotations

# The one queue bound to `ems.data` that the balancer consumes.
RAW_READINGS_QUEUE = "readings.raw"
RAW_READINGS_BINDING = "device.*.reading"

# On a dead letter: where the reading was first published (names as in ems.common.bus).
ORIGINAL_EXCHANGE_HEADER = "x-ems-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-ems-original-routing-key"

# Optional header a publisher may add: when it sent the reading, in integer microseconds
# since the epoch (an AMQP float is single precision: useless for a timestamp). Monitoring
# reports publish-to-stored latency for the readings that carry it.
SENT_AT_HEADER = "x-ems-sent-at-us"


def ingest_queue(instance: int) -> str:
    """The queue monitoring replica `instance` (0-based) consumes."""
    return f"monitoring.ingest.{instance}"


def device_key(routing_key: str) -> str:
    """The device id part of `device.<id>.reading` (the whole key if it has another shape)."""
    parts = routing_key.split(".")
    return parts[1] if len(parts) == 3 else routing_key
