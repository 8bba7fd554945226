from __future__ import annotations

from typing import ClassVar, Literal

from ems.common.settings import CommonSettings


class BalancerSettings(CommonSettings):
    database_name: ClassVar[str | None] = None

    # consistent-hash: each reading partition (each device) to one replica at a time;
    # round-robin: every replica consumes every partition, readings dealt out in turn.
    balancer_strategy: Literal["consistent-hash", "round-robin"] = "consistent-hash"
    # How often the assignment is recomputed and published, and how long a replica may stay
    # silent (or say it is not ready) before its partitions move to the others.
    replica_check_interval_seconds: float = 1.0
    replica_gone_after_seconds: float = 5.0
