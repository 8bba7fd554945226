"""This replica on the control exchange: it announces itself to the balancer every
heartbeat interval (with whether it is ready, and why not) and consumes the partitions the
balancer's assignments give it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ems.common.messaging import EXCHANGE_CONTROL, Broker, Delivery, Refused
from ems.common.tasks import every
from ems.contracts.ingest import (
    ASSIGNMENT_ROUTING_KEY,
    Assignment,
    ReplicaHeartbeat,
    heartbeat_routing_key,
)
from ems.monitoring.ingest.intake import Intake
from ems.monitoring.ingest.metrics import PARTITIONS
from ems.monitoring.settings import MonitoringSettings

log = logging.getLogger(__name__)

CONTROL_QUEUE = "monitoring.{id}.control"


class ReplicaControl:
    def __init__(
        self,
        settings: MonitoringSettings,
        broker: Broker,
        intake: Intake,
        problems: Callable[[], list[str]],
        instance_id: str,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.intake = intake
        self.problems = problems
        self.instance_id = instance_id
        # Swarm's {{.Task.Slot}} (or the runner's replica index): stable across restarts.
        self.replica = str(settings.instance)
        self.generation = -1

    async def start(self) -> None:
        await self.broker.consume(
            CONTROL_QUEUE, self.handle_assignment, prefetch=10, instance_id=self.instance_id
        )

    async def run(self) -> None:
        """Announce this replica every heartbeat interval (the first one at once)."""
        await self.announce()
        await every(self.settings.replica_heartbeat_seconds, self.announce, "heartbeat")

    async def announce(self) -> None:
        problems = self.problems()
        heartbeat = ReplicaHeartbeat(
            replica=self.replica,
            partitions=sorted(self.intake.assigned),
            ready=not problems,
            problems=[p[:200] for p in problems[:20]],
            weight=self.settings.replica_weight,
            interval=self.settings.replica_heartbeat_seconds,
        )
        PARTITIONS.labels("assigned").set(len(self.intake.assigned))
        PARTITIONS.labels("consumed").set(len(self.intake.consuming()))
        if self.broker.is_connected():
            self.broker.publish_nowait(
                EXCHANGE_CONTROL,
                heartbeat_routing_key(self.replica),
                heartbeat.model_dump_json().encode(),
            )

    async def handle_assignment(self, delivery: Delivery) -> None:
        """The balancer's assignment: consume exactly this replica's partitions."""
        if delivery.routing_key != ASSIGNMENT_ROUTING_KEY:
            raise Refused(f"unexpected control message {delivery.routing_key!r}")
        assignment = Assignment.model_validate_json(delivery.body)
        mine = frozenset(assignment.replicas.get(self.replica, []))
        self.intake.assign(mine, assignment.shared)
        self.generation = assignment.generation
