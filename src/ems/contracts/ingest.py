"""How readings travel from `ems.data` to the monitoring replicas, and how the balancer and
the replicas agree on who consumes what.

Publishers (any AMQP client that logs in as a meter, the simulator) send to `ems.data` with
the routing key `device.<id>.reading`. The broker's consistent-hash exchange puts each
device in one of the partition queues (`readings.<nn>`, see ems.common.messaging.topology);
each partition is consumed by the replica the balancer assigned it to.

On `ems.control`: every replica announces itself (`ReplicaHeartbeat`, routing key
`monitoring.replica.<replica>`) each heartbeat interval; the balancer answers with the whole
`Assignment` (routing key `balancer.assignment`) whenever it changes, and every interval.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Optional header a publisher may add: when it sent the reading, in integer microseconds
# since the epoch (an AMQP float is single precision: useless for a timestamp). Monitoring
# reports publish-to-stored latency for the readings that carry it.
SENT_AT_HEADER = "x-ems-sent-at-us"

ASSIGNMENT_ROUTING_KEY = "balancer.assignment"


def heartbeat_routing_key(replica: str) -> str:
    return f"monitoring.replica.{replica}"


class ReplicaHeartbeat(BaseModel):
    """A replica is alive; `partitions` are the ones it was assigned (its claim), `ready`
    whether it can do its work (its /health/ready), with the reasons when not."""

    model_config = ConfigDict(frozen=True)

    replica: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    partitions: list[int] = Field(default_factory=list, max_length=4096)
    ready: bool = True
    problems: list[str] = Field(default_factory=list, max_length=20)
    weight: int = Field(default=1, ge=1, le=1000)
    interval: float = Field(default=1.0, gt=0, le=60)


class Assignment(BaseModel):
    """Which replica consumes which partitions. `shared`: round robin, every live replica
    consumes every partition (the broker spreads each partition's readings over them)."""

    model_config = ConfigDict(frozen=True)

    generation: int
    shared: bool = False
    replicas: dict[str, list[int]] = Field(default_factory=dict)
