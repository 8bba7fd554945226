"""A push written with plain SQL (alerts/notify.py) is the outbox row the session's
`add_ws_message` writes (store.py), so the relay and realtime treat both alike."""

from __future__ import annotations

import json
import uuid

from ems.common.db import Database
from ems.common.outbox import add_ws_message
from ems.contracts.ws import AlertsRead, Audience
from ems.monitoring.alerts.notify import push
from ems.monitoring.ingest.store import driver_connection
from ems.monitoring.models import outbox
from ems.monitoring.settings import MonitoringSettings

_ROW = "SELECT exchange, routing_key, body FROM outbox WHERE event_id = $1"


async def test_a_push_on_the_driver_connection_writes_the_sessions_row(
    monitoring_settings: MonitoringSettings,
) -> None:
    """If this fails, one of the two ways of writing a message for sockets sends it to
    another exchange, under another type, or with another body than the other."""
    db = Database(monitoring_settings.dsn(), pool_size=1)
    user = uuid.uuid4()
    body, audience = AlertsRead(ids=None, unread_count=3), Audience(user_ids=[user])
    by_session, by_driver = uuid.uuid4(), uuid.uuid4()
    try:
        async with db.transaction() as session:
            await add_ws_message(session, outbox, body, audience, event_id=by_session)
            conn = await driver_connection(session)
            await push(conn, body, audience, event_id=by_driver)
        async with db.driver() as conn:
            written = [await conn.fetchrow(_ROW, event_id) for event_id in (by_session, by_driver)]
    finally:
        await db.dispose()
    assert written[0] is not None and written[1] is not None
    assert written[0]["exchange"] == written[1]["exchange"] == "ems.ws"
    assert written[0]["routing_key"] == written[1]["routing_key"] == "alerts.read"
    assert json.loads(written[0]["body"]) == json.loads(written[1]["body"])
    assert json.loads(written[1]["body"]) == {
        "type": "alerts.read",
        "audience": json.loads(audience.model_dump_json()),
        "data": {"ids": None, "unread_count": 3},
    }
