"""What a monitoring replica counts (exported on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75]
_LATENCY_BUCKETS += [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0]

READINGS = Counter(
    "ems_monitoring_readings_total",
    "Readings taken off the ingest queue, by outcome "
    "(stored, duplicate, unmatched, held_dropped, deleted_device, invalid)",
    ["outcome"],
)
ALERTS = Counter("ems_monitoring_alerts_total", "Overconsumption alerts raised", ["kind"])
BATCH_SIZE = Histogram(
    "ems_monitoring_batch_size",
    "Readings written per transaction",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 4000),
)
FLUSH_SECONDS = Histogram(
    "ems_monitoring_flush_seconds",
    "Time to write one batch (parse, transaction, dead letters, ack)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
STORE_LATENCY = Histogram(
    "ems_monitoring_store_latency_seconds",
    "From a reading's publish (its x-ems-sent-at-us header) to the commit that stored it",
    buckets=_LATENCY_BUCKETS,
)
OLDEST_UNACKED = Gauge(
    "ems_monitoring_oldest_unacked_seconds",
    "Age of the oldest reading this replica holds unacknowledged",
)
HELD = Gauge(
    "ems_monitoring_held_readings",
    "Readings of unknown devices held until the device is known (capped)",
)
PARTITIONS = Gauge(
    "ems_monitoring_partitions", "Reading partitions this replica is assigned / consumes", ["state"]
)
