"""Ownership periods (issue 10 point 4): a meter handed to another household shows the
new owner only the hours from when they got it, the previous owner loses it, admins see
everything; consumption, CSV, comparisons and alerts alike."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ems.contracts.events import DeviceUpdated
from tests.platform.auth import Identity
from tests.platform.identity import ADMIN, bearer
from tests.platform.pipeline import Pipeline
from tests.platform.polling import eventually

H = timedelta(hours=1)


async def test_a_reassigned_meter_belongs_to_each_owner_for_their_own_hours(
    pipeline: Pipeline, identity: Identity
) -> None:
    """If this fails, the household that got a meter sees the previous household's
    consumption or alerts (the leak issue 10 reproduced), the previous owner keeps reading
    a meter that is no longer theirs, or admins lose part of its history."""
    app = await pipeline.start_replica(0, identity.verifier())
    await pipeline.start_balancer()
    dave, dave_token = await identity.new_client()
    erin, erin_token = await identity.new_client()
    admin = await identity.token(ADMIN)
    meter = await pipeline.create_device(limit_kwh=0.5, owner_id=dave)
    kept = await pipeline.create_device(limit_kwh=100, owner_id=dave)
    await pipeline.wait_for_devices(meter, kept)
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    # Every hour over the 0.5 kWh limit: one alert each.
    for hour in (9, 10, 11, 12):
        await pipeline.publish_reading(meter, midnight + hour * H, 1.0)
    await pipeline.publish_reading(kept, midnight + 9 * H, 0.3)
    # Handed to Erin at 10:20: her first hour is 11:00.
    await pipeline.publish_event(
        DeviceUpdated(id=meter, name="meter", owner_id=erin, max_hourly_kwh=0.5, revision=2),
        occurred_at=midnight + 10 * H + timedelta(minutes=20),
    )

    async def settled() -> bool:
        alerts = await pipeline.db.fetchval(
            "SELECT count(*) FROM alerts WHERE device_id = $1", meter
        )
        owner = await pipeline.db.fetchval("SELECT owner_id FROM devices WHERE id = $1", meter)
        return alerts == 4 and owner == erin and await pipeline.readings_count(kept) == 1

    await eventually(settled, timeout=20)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitoring") as api:

        async def get(path: str, token: str, **params: Any) -> httpx.Response:
            return await api.get(f"/api/consumption/{path}", params=params, headers=bearer(token))

        # Erin: from 11:00 on, for the device and for all her devices.
        for params in ({"device_id": str(meter)}, {}):
            mine = await get("day", erin_token, date=day.isoformat(), **params)
            assert mine.status_code == 200, mine.text
            hours = [h["kwh"] for h in mine.json()["hours"]]
            assert hours[9:13] == [0, 0, 1.0, 1.0]
            assert mine.json()["total_kwh"] == 2.0
        rows = list(
            csv.reader(
                io.StringIO(
                    (
                        await get(
                            "export.csv",
                            erin_token,
                            start=day.isoformat(),
                            end=day.isoformat(),
                            device_id=str(meter),
                        )
                    ).text
                )
            )
        )
        assert [row[1] for row in rows[10:14]] == ["0.0", "0.0", "1.0", "1.0"]
        compared = await get(
            "compare", erin_token, period="day", date=day.isoformat(), device_id=str(meter)
        )
        assert compared.json()["current"]["kwh"] == 2.0
        alerts = await get("alerts", erin_token)
        assert alerts.json()["total"] == 2
        assert sorted(a["hour"] for a in alerts.json()["items"]) == [
            f"{day.isoformat()}T11:00:00Z",
            f"{day.isoformat()}T12:00:00Z",
        ]
        assert (await get("alerts", erin_token, device_id=str(meter))).json()["total"] == 2

        # Dave: the meter is gone like any foreign device; his other one stays.
        for path, params in (
            ("day", {"date": day.isoformat()}),
            ("range", {"start": day.isoformat(), "end": day.isoformat()}),
            ("export.csv", {"start": day.isoformat(), "end": day.isoformat()}),
            ("compare", {"period": "day", "date": day.isoformat()}),
            ("month-to-date", {}),
            ("alerts", {}),
        ):
            denied = await get(path, dave_token, device_id=str(meter), **params)
            assert denied.status_code == 404, (path, denied.text)
        everything = await get("day", dave_token, date=day.isoformat())
        assert everything.json()["total_kwh"] == 0.3
        assert (await get("alerts", dave_token)).json()["total"] == 0

        # Admins: the whole history.
        whole = await get("day", admin, date=day.isoformat(), device_id=str(meter))
        assert whole.json()["total_kwh"] == 4.0
        assert (await get("alerts", admin, device_id=str(meter))).json()["total"] == 4

        # Handed back to Dave at 12:00 sharp: he sees 12:00 on, Erin nothing any more.
        await pipeline.publish_event(
            DeviceUpdated(id=meter, name="meter", owner_id=dave, max_hourly_kwh=0.5, revision=3),
            occurred_at=midnight + 12 * H,
        )

        async def returned() -> bool:
            owner = await pipeline.db.fetchval("SELECT owner_id FROM devices WHERE id = $1", meter)
            return bool(owner == dave)

        await eventually(returned)
        back = await get("day", dave_token, date=day.isoformat(), device_id=str(meter))
        assert [h["kwh"] for h in back.json()["hours"]][9:13] == [0, 0, 0, 1.0]
        gone = await get("day", erin_token, date=day.isoformat(), device_id=str(meter))
        assert gone.status_code == 404
        assert (await get("alerts", erin_token)).json()["total"] == 0
        assert uuid.UUID(back.json()["device_id"]) == meter
