"""The hand-built `consumption.updated` message is exactly what the contract models say."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from ems.contracts.ws import Audience, ConsumptionUpdated, WsEnvelope
from ems.monitoring.ingest.live import envelope_json
from ems.monitoring.ingest.store import HourFigure


def test_live_update_json_matches_the_contract_models() -> None:
    """If this fails, the realtime service (which reads WsEnvelope) receives live chart
    updates it cannot parse, or with the wrong audience."""
    owner, device = uuid.uuid4(), uuid.uuid4()
    hour = datetime(2026, 11, 25, 13, tzinfo=UTC)
    for owner_id in (owner, None):
        figure = HourFigure(device, owner_id, hour, 1_234_567)
        expected = WsEnvelope.wrap(
            ConsumptionUpdated(device_id=device, hour=hour, kwh=1.234567),
            Audience(user_ids=[owner_id] if owner_id else [], admins=True),
        )
        built = WsEnvelope.model_validate_json(envelope_json(figure))
        assert built == expected
        assert json.loads(envelope_json(figure)) == json.loads(expected.model_dump_json())
