"""`consumption.updated` for live charts: the newest total of each device-hour, sent at most
once per interval.

Each message carries the hour's whole total, so a lost one is put right by the next (or by
reloading the chart): they are sent without the outbox, unconfirmed and not persistent. At
thousands of readings a second the coalescing keeps them from doubling the broker's work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime

from prometheus_client import Counter

from ems.common.messaging import EXCHANGE_WS
from ems.common.messaging.link import Link
from ems.common.messaging.publisher import BatchPublisher, properties
from ems.common.tasks import Background
from ems.contracts.ws import ConsumptionUpdated
from ems.monitoring.ingest.store import HourFigure
from ems.monitoring.models import MICRO

log = logging.getLogger(__name__)

SENT = Counter("ems_monitoring_live_updates_total", "consumption.updated messages sent")


class LiveUpdates:
    def __init__(self, link: Link, interval: float) -> None:
        self.link = link
        self.interval = interval
        self._pending: dict[tuple[uuid.UUID, datetime], HourFigure] = {}
        self._publisher: BatchPublisher | None = None
        self._task = Background("monitoring-live-updates")

    def offer(self, figures: list[HourFigure]) -> None:
        if self.interval <= 0:
            return
        for figure in figures:
            self._pending[(figure.device_id, figure.hour)] = figure

    def start(self) -> None:
        if self.interval > 0:
            self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self._pending:
                continue
            pending, self._pending = self._pending, {}
            try:
                await self._send(list(pending.values()))
            except Exception as exc:
                log.info("live updates skipped: %r", exc)

    async def _send(self, figures: list[HourFigure]) -> None:
        if not self.link.is_connected():
            return
        if self._publisher is None or self._publisher.channel.is_closed:
            # No confirms: aiormq opens channels in confirm mode unless told otherwise, and
            # would log every ack of a message it did not publish itself as unexpected.
            self._publisher = BatchPublisher(
                await self.link.channel(confirms=False, on_lost=lambda *_: None)
            )
        for figure in figures:
            self._publisher.publish_unconfirmed(
                envelope_json(figure),
                exchange=EXCHANGE_WS,
                routing_key=ConsumptionUpdated.routing_key,
                properties=properties(self.link.user, persistent=False),
            )
        SENT.inc(len(figures))


def envelope_json(figure: HourFigure) -> bytes:
    """The `WsEnvelope` of a `ConsumptionUpdated`, built directly: at thousands a second the
    model round trip costs more than the publish (a test pins it to the models' output)."""
    return json.dumps(
        {
            "type": ConsumptionUpdated.routing_key,
            "audience": {
                "user_ids": [str(figure.owner_id)] if figure.owner_id else [],
                "admins": True,
            },
            "data": {
                "device_id": str(figure.device_id),
                "hour": figure.hour.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "kwh": figure.micro_kwh / MICRO,
            },
        },
        separators=(",", ":"),
    ).encode()
