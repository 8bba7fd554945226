"""What this instance takes off the broker: messages for sockets, and user events."""

from __future__ import annotations

import json
import logging
import time

from prometheus_client import Histogram

from ems.common.messaging import Delivery, Refused, require_routed_type
from ems.contracts.events import Envelope, UserDeleted, UserUpdated
from ems.contracts.ws import WsEnvelope
from ems.realtime.service import RealtimeContext
from ems.realtime.sockets.connections import CLOSE_BAD_TOKEN, CLOSE_USER_DELETED
from ems.realtime.sockets.presence import PRESENCE_TYPE

log = logging.getLogger(__name__)

HAND_OFF = Histogram(
    "ems_ws_fanout_seconds",
    "Time to hand one message to every target socket of this instance",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


# This instance's own queues (gone when it stops), as named in the topology table.
WS_QUEUE = "realtime.{id}.ws"
SYNC_QUEUE = "realtime.{id}.sync"


async def handle_ws_message(ctx: RealtimeContext, message: Delivery) -> None:
    """Push a message to exactly the sockets of its audience on this instance."""
    envelope = WsEnvelope.model_validate_json(message.body)
    require_routed_type(envelope.type, message, "message")
    if envelope.type == PRESENCE_TYPE:
        ctx.presence.apply(envelope.data)
        return
    started = time.perf_counter()
    text = json.dumps({**envelope.data, "type": envelope.type}, separators=(",", ":"))
    ctx.hub.deliver(envelope.audience, text)
    HAND_OFF.observe(time.perf_counter() - started)
    ctx.replay.record(envelope.type, envelope.audience, text)


async def handle_sync_event(ctx: RealtimeContext, message: Delivery) -> None:
    """A deleted user's sockets close with 4403; a changed role closes with 4401 so the
    client comes back with a token that carries the new role."""
    envelope = Envelope.model_validate_json(message.body)
    require_routed_type(envelope.type, message)
    if envelope.type == UserDeleted.routing_key:
        deleted = UserDeleted.model_validate(envelope.data)
        ctx.user_deleted(deleted.id)
        closed = ctx.hub.close_user(deleted.id, CLOSE_USER_DELETED, "user deleted")
        log.info("user deleted", extra={"user_id": str(deleted.id), "sockets_closed": closed})
    elif envelope.type == UserUpdated.routing_key:
        updated = UserUpdated.model_validate(envelope.data)
        ctx.hub.close_user(updated.id, CLOSE_BAD_TOKEN, "role changed", unless_role=updated.role)
    else:
        raise Refused(f"unexpected event type {envelope.type!r}")
