"""The balancer: the control plane of ingest. Readings never pass through it.

Monitoring replicas announce themselves on `ems.control` every heartbeat interval (any
number of them, coming and going: Swarm's `docker service scale` adds one live). A replica
is live while its heartbeats come; one silent, or saying it is not ready, for
`replica_gone_after_seconds` is gone, and its partitions go to the others. When no replica
is live (the database is down under all of them, say) the assignment stays as it is:
moving partitions to nobody would only make everyone start over. Whenever the set of live
replicas or their claims change, and every check interval anyway, the balancer publishes
the whole assignment of reading partitions (`plan`, below): each replica then consumes
exactly its own.

A gone replica's partitions simply wait in their durable queues until their new owner
consumes them (its unacked readings went back to the head of those queues when its
connection closed): there is no backlog to move. With the round-robin strategy every live
replica consumes every partition, and the broker deals each partition's readings out to
them in turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from ems.balancer.settings import BalancerSettings
from ems.common.messaging import EXCHANGE_CONTROL, Broker, Delivery, Refused
from ems.common.messaging.topology import READING_PARTITIONS
from ems.common.tasks import Background, every
from ems.contracts.ingest import (
    ASSIGNMENT_ROUTING_KEY,
    Assignment,
    ReplicaHeartbeat,
    heartbeat_routing_key,
)

log = logging.getLogger(__name__)

CONTROL_QUEUE = "balancer.{id}.control"

LIVE = Gauge("ems_balancer_live_replicas", "Monitoring replicas the balancer sees live")
REPLICA_UP = Gauge("ems_balancer_replica_up", "1 while a replica is live", ["replica"])
PARTITIONS = Gauge(
    "ems_balancer_partitions", "Reading partitions assigned to each replica", ["replica"]
)
UNASSIGNED = Gauge(
    "ems_balancer_unassigned_partitions", "Reading partitions no live replica consumes"
)
REBALANCES = Counter("ems_balancer_rebalances_total", "Changes of the assignment")


@dataclass
class Replica:
    last_seen: float
    # Since when its heartbeats say it is not ready (None: it is ready).
    unready_since: float | None
    weight: int
    # How often it announces itself: silent for three of these is never "late" enough.
    interval: float = 1.0
    claims: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def gone_after(self, configured: float) -> float:
        return max(configured, 3 * self.interval)


class Balancer:
    def __init__(self, settings: BalancerSettings, broker: Broker, instance_id: str) -> None:
        self.settings = settings
        self.broker = broker
        self.instance_id = instance_id
        self.replicas: dict[str, Replica] = {}
        self.assignment: dict[str, set[int]] = {}
        self.generation = 0
        self.started = time.monotonic()
        self.last_check = self.started
        self._changed = asyncio.Event()
        self._checks = Background("balancer")

    async def start(self) -> None:
        """Listen to the replicas' heartbeats and check the assignment every interval."""
        await self.broker.consume(
            CONTROL_QUEUE, self.handle_heartbeat, prefetch=100, instance_id=self.instance_id
        )
        self._checks.start(
            every(self.settings.replica_check_interval_seconds, self.check, "replica check")
        )

    async def stop(self) -> None:
        await self._checks.stop()

    def alive(self) -> frozenset[str]:
        """The replicas readings go to now."""
        now = time.monotonic()
        configured = self.settings.replica_gone_after_seconds
        return frozenset(
            r
            for r, s in self.replicas.items()
            if now - s.last_seen < s.gone_after(configured)
            and (s.unready_since is None or now - s.unready_since < s.gone_after(configured))
        )

    async def handle_heartbeat(self, delivery: Delivery) -> None:
        """A replica announced itself: remembered, and the plan redone if it changed."""
        beat = ReplicaHeartbeat.model_validate_json(delivery.body)
        if delivery.routing_key != heartbeat_routing_key(beat.replica):
            raise Refused(f"heartbeat of {beat.replica!r} sent as {delivery.routing_key!r}")
        known = self.replicas.get(beat.replica)
        was_alive = beat.replica in self.alive()
        now = time.monotonic()
        unready_since = None
        if not beat.ready:
            unready_since = known.unready_since if known and known.unready_since else now
        self.replicas[beat.replica] = Replica(
            now, unready_since, beat.weight, beat.interval, set(beat.partitions), beat.problems
        )
        if known is None:
            log.info("monitoring replica discovered", extra={"replica": beat.replica})
        elif not beat.ready and known.unready_since is None:
            log.warning(
                "monitoring replica %s not ready: %s",
                beat.replica,
                "; ".join(beat.problems[:5]),
                extra={"replica": beat.replica},
            )
        if (beat.replica in self.alive()) != was_alive or (
            known is not None and known.weight != beat.weight
        ):
            await self.check()

    async def check(self) -> None:
        """Recompute the assignment; publish it when it changed, and every interval."""
        now = time.monotonic()
        # A fresh balancer first listens a while: the replicas' claims are its memory.
        if now - self.started < self.settings.replica_gone_after_seconds:
            return
        # A balancer that was itself stalled (CPU starved, paused) has not heard the
        # heartbeats of meanwhile yet: it judges nobody gone before it has.
        stalled = now - self.last_check > 2 * self.settings.replica_check_interval_seconds
        self.last_check = now
        if stalled:
            return
        live = self.alive()
        if not live and self.assignment:
            # Nobody to move partitions to: keep them where they are until someone is back.
            self._export(live)
            await self.publish()
            return
        weights = {r: self.replicas[r].weight for r in live}
        if self.settings.balancer_strategy == "round-robin":
            wanted = {r: set(range(READING_PARTITIONS)) for r in live}
        else:
            claims = {r: self.replicas[r].claims for r in live}
            wanted = plan(READING_PARTITIONS, claims, weights)
        if wanted != self.assignment:
            self.generation += 1
            REBALANCES.inc()
            log.warning(
                "reading partitions reassigned: %s",
                ", ".join(f"{r}: {len(p)}" for r, p in sorted(wanted.items())) or "nobody live",
                extra={"live": sorted(live)},
            )
        self.assignment = wanted
        self._export(live)
        await self.publish()

    async def publish(self) -> None:
        if not self.broker.is_connected():
            return
        message = Assignment(
            generation=self.generation,
            shared=self.settings.balancer_strategy == "round-robin",
            replicas={r: sorted(p) for r, p in self.assignment.items()},
        )
        # Published again every check interval: one lost is made good by the next.
        self.broker.publish_nowait(
            EXCHANGE_CONTROL, ASSIGNMENT_ROUTING_KEY, message.model_dump_json().encode()
        )

    def _export(self, live: frozenset[str]) -> None:
        LIVE.set(len(live))
        for replica in self.replicas:
            REPLICA_UP.labels(replica).set(1 if replica in live else 0)
            PARTITIONS.labels(replica).set(len(self.assignment.get(replica, ())))
        covered = set().union(*self.assignment.values()) if self.assignment else set()
        UNASSIGNED.set(READING_PARTITIONS - len(covered))


# --- the plan -----------------------------------------------------------------------------
# Which monitoring replica consumes which reading partitions.
#
# Sticky and balanced: a live replica keeps the partitions it claims (from its heartbeats)
# up to its quota; only a dead replica's partitions, unclaimed ones and a surplus move. So a
# new replica takes about 1/N of the partitions, all from the others' surplus, and a removed
# one's partitions are spread over the survivors; nothing else moves. Quotas follow the
# replicas' weights (largest remainder). The plan depends only on the claims, so a restarted
# balancer, which learns the claims from the next heartbeats, carries on where it was.


def replica_order(replica: str) -> tuple[int, str]:
    """Numeric ids (Swarm's task slots) in number order, then the rest by name."""
    return (int(replica), "") if replica.isdigit() else (1 << 62, replica)


def quotas(partitions: int, weights: Mapping[str, int], held: Mapping[str, int]) -> dict[str, int]:
    total = sum(weights.values())
    exact = {r: partitions * w / total for r, w in weights.items()}
    quota = {r: int(x) for r, x in exact.items()}
    spare = partitions - sum(quota.values())
    # The remainder to the largest fractions; ties to who holds more already (no move).
    for replica in sorted(
        weights, key=lambda r: (-(exact[r] - quota[r]), -held.get(r, 0), replica_order(r))
    )[:spare]:
        quota[replica] += 1
    return quota


def plan(
    partitions: int, claims: Mapping[str, set[int]], weights: Mapping[str, int]
) -> dict[str, set[int]]:
    """Partitions per live replica (`weights` names the live ones)."""
    if not weights:
        return {}
    live = sorted(weights, key=replica_order)
    owned: dict[str, set[int]] = {}
    taken: set[int] = set()
    for replica in live:
        mine = {p for p in claims.get(replica, set()) if 0 <= p < partitions} - taken
        owned[replica] = mine
        taken |= mine
    quota = quotas(partitions, weights, {r: len(p) for r, p in owned.items()})
    free = set(range(partitions)) - taken
    for replica in live:
        surplus = len(owned[replica]) - quota[replica]
        if surplus > 0:
            shed = sorted(owned[replica])[-surplus:]
            owned[replica] -= set(shed)
            free |= set(shed)
    pool = sorted(free)
    for replica in live:
        missing = quota[replica] - len(owned[replica])
        if missing > 0:
            owned[replica] |= set(pool[:missing])
            pool = pool[missing:]
    return owned
