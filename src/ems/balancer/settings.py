from __future__ import annotations

from typing import Literal

from ems.common.registry import service_spec
from ems.common.settings import CommonSettings

DEFAULT_REPLICAS = 2


class BalancerSettings(CommonSettings):
    # How many monitoring replicas there are (their queues are monitoring.ingest.0..N-1).
    # Unset: the `replicas` of the registered monitoring spec, which is what `ems up` runs.
    monitoring_replicas: int | None = None
    balancer_strategy: Literal["consistent-hash", "round-robin"] = "consistent-hash"
    balancer_virtual_nodes: int = 160
    # Unacked readings the balancer holds at once (each waits for its forward's confirm).
    balancer_prefetch: int = 2000
    # How often the ingest queues' consumer counts are checked, and how long a queue may go
    # without a consumer before its replica counts as gone and its devices move.
    replica_check_interval_seconds: float = 1.0
    replica_gone_after_seconds: float = 5.0

    def replica_count(self) -> int:
        if self.monitoring_replicas is not None:
            return self.monitoring_replicas
        try:
            return service_spec("monitoring").replicas
        except KeyError:
            return DEFAULT_REPLICAS
