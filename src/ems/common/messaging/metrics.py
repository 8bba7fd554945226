"""What the messaging layer counts (exported on each service's /metrics). Counting never
raises: a metric must not turn a settled message into a failure."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

CONSUMED = Counter(
    "ems_messages_consumed_total", "Messages taken off a queue, by outcome", ["queue", "outcome"]
)
DEAD_LETTERED = Counter(
    "ems_messages_dead_lettered_total",
    "Messages moved to a dead-letter queue, by kind "
    "(invalid, too_large, forged, failed, delivery_limit, not_storable, device_deleted)",
    ["queue", "kind"],
)
DEAD_LETTERED_BYTES = Counter(
    "ems_messages_dead_lettered_bytes_total", "Bytes of the bodies dead-lettered", ["queue"]
)
CHANNELS_LOST = Counter(
    "ems_amqp_channels_lost_total",
    "Channels the broker closed under a link (a refused operation, a protocol error)",
    ["link"],
)
QUEUE_MESSAGES = Gauge(
    "ems_queue_messages", "Messages ready in a queue (as the broker last said)", ["queue"]
)
QUEUE_CONSUMERS = Gauge(
    "ems_queue_consumers", "Consumers of a queue (as the broker last said)", ["queue"]
)


def count(metric: Any, *labels: str, amount: float = 1) -> None:
    try:
        if amount > 0:
            metric.labels(*labels).inc(amount)
    except Exception:  # pragma: no cover - a metric must never fail the work it counts
        log.exception("metric not counted")


def gauge(metric: Any, value: float, *labels: str) -> None:
    try:
        (metric.labels(*labels) if labels else metric).set(value)
    except Exception:  # pragma: no cover
        log.exception("metric not set")
