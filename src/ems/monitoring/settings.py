from __future__ import annotations

from typing import ClassVar

from ems.common.settings import CommonSettings


class MonitoringSettings(CommonSettings):
    database_name: ClassVar[str | None] = "monitoringdb"

    # A batch is written in one transaction when it holds this many readings, or this many
    # milliseconds after its first reading arrived, whichever comes first.
    ingest_batch_size: int = 1000
    ingest_batch_ms: int = 50
    # Unacked deliveries the broker hands one replica: room for the next batch to fill
    # while the current one is written.
    ingest_prefetch: int = 3000
    # An assigned partition still without this replica's consumer after this long makes the
    # replica unready (its previous owner has not let go, or its channel keeps closing).
    ingest_consumer_grace_seconds: float = 10.0

    # `EMS_OVER_LIMIT_KWH`: when set, one reading above it raises a `reading` alert.
    over_limit_kwh: float | None = None

    # Raw readings are kept this long (daily partitions; hourly figures are kept for good).
    # A reading older than this cannot be told apart from a repeat any more: refused.
    readings_retention_days: int = 90
    # A reading stamped further ahead than this is refused as bad input.
    max_future_seconds: int = 3600
    # Larger single readings are refused as bad input (protects the hourly sums).
    max_reading_kwh: float = 1_000_000.0
    # Readings of devices monitoring does not know yet wait this long for the device, at
    # most this many per device and in all (the oldest are dropped, and counted).
    unmatched_retention_days: int = 7
    held_per_device: int = 10_000
    held_total: int = 1_000_000

    # This replica's share of the reading partitions relative to the others' (announced to
    # the balancer with every heartbeat), and how often it announces itself.
    replica_weight: int = 1
    replica_heartbeat_seconds: float = 1.0

    # Live `consumption.updated` messages: the newest figure of each device-hour is sent at
    # most once per interval (0 turns them off).
    live_update_interval_seconds: float = 1.0

    # `EMS_ALERT_DIGEST_SECONDS`: admins get one `notify.digest` per window this long in
    # which alerts were raised (instead of a toast per alert of every device).
    alert_digest_seconds: float = 60.0
    # How often each replica looks for meters silent longer than their silence_minutes.
    silence_check_seconds: float = 10.0

    # How many replicas consume `ems.sync` device events (they share one queue).
    sync_prefetch: int = 50

    # The devices service's loopback URL, for the device and tariff snapshots a replica
    # catches up from at start (those created before monitoring's queue existed), and the
    # users service's, for the users' (roles and time zones); empty turns one off.
    devices_internal_url: str = "http://127.0.0.1:8103"
    users_internal_url: str = "http://127.0.0.1:8102"
