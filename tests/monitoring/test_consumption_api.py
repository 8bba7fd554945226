"""The consumption API on a replica, with real tokens from the auth service: figures,
zero-filling, CSV, alert history, and who may see what."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx

from tests.platform.auth import Identity
from tests.platform.identity import ADMIN, bearer
from tests.platform.pipeline import Pipeline
from tests.platform.polling import eventually


async def test_consumption_api_figures_and_object_level_access(
    pipeline: Pipeline, identity: Identity
) -> None:
    """If this fails, the charts show wrong or unfilled hours, or a client can read the
    consumption or alerts of a device that is not theirs (the seeds' worst leak)."""
    app = await pipeline.start_replica(0, identity.verifier())
    await pipeline.start_balancer()
    alice, alice_token = await identity.new_client()
    bob, bob_token = await identity.new_client()
    admin_token = await identity.token(ADMIN)
    kitchen = await pipeline.create_device(limit_kwh=0.5, owner_id=alice)
    garage = await pipeline.create_device(limit_kwh=100, owner_id=alice)
    bobs = await pipeline.create_device(limit_kwh=100, owner_id=bob)
    await pipeline.wait_for_devices(kitchen, garage, bobs)

    # The day before yesterday (UTC, the profile zone until one is set), so that its next
    # day is in the past too: a reading of today's 02:00 would be more than the hour monitoring
    # accepts in the future when the suite runs between 00:00 and 01:00 UTC.
    day = (datetime.now(UTC) - timedelta(days=2)).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    sent = [
        (kitchen, midnight + timedelta(hours=3, minutes=10), 0.3),
        (kitchen, midnight + timedelta(hours=3, minutes=20), 0.4),  # 0.7 > 0.5: an alert
        (kitchen, midnight + timedelta(hours=17), 0.25),
        (garage, midnight + timedelta(hours=3, minutes=30), 1.5),
        (bobs, midnight + timedelta(hours=3), 9.0),
        (kitchen, midnight + timedelta(days=1, hours=2), 0.125),  # the next day
    ]
    for device, moment, value in sent:
        await pipeline.publish_reading(device, moment, value)

    async def all_stored() -> bool:
        counts = [await pipeline.readings_count(d) for d in (kitchen, garage, bobs)]
        return counts == [4, 1, 1]

    await eventually(all_stored, timeout=15)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitoring") as api:
        # One device's day: 24 hours in the profile's zone (UTC until one is set),
        # zero-filled, and the total.
        response = await api.get(
            "/api/consumption/day",
            params={"device_id": str(kitchen), "date": day.isoformat()},
            headers=bearer(alice_token),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["device_id"] == str(kitchen) and body["date"] == day.isoformat()
        assert body["unit"] == "kWh"
        assert len(body["hours"]) == 24
        assert body["hours"][0]["hour"] == f"{day.isoformat()}T00:00:00Z"
        assert body["hours"][3]["kwh"] == 0.7
        assert body["hours"][17]["kwh"] == 0.25
        assert sum(1 for h in body["hours"] if h["kwh"] == 0) == 22
        assert body["total_kwh"] == 0.95

        # All of Alice's devices at once (Bob's excluded).
        everything = await api.get(
            "/api/consumption/day", params={"date": day.isoformat()}, headers=bearer(alice_token)
        )
        assert everything.json()["device_id"] is None
        assert everything.json()["hours"][3]["kwh"] == 2.2
        assert everything.json()["total_kwh"] == 2.45

        # Nobody sees another client's device, nor learns that it exists.
        for device in (bobs, uuid.uuid4()):
            denied = await api.get(
                "/api/consumption/day",
                params={"device_id": str(device), "date": day.isoformat()},
                headers=bearer(alice_token),
            )
            assert denied.status_code == 404
            assert denied.json()["error"]["code"] == "not_found"
        admin_view = await api.get(
            "/api/consumption/day",
            params={"device_id": str(bobs), "date": day.isoformat()},
            headers=bearer(admin_token),
        )
        assert admin_view.json()["total_kwh"] == 9.0
        anonymous = await api.get("/api/consumption/day", params={"date": day.isoformat()})
        assert anonymous.status_code == 401
        forged = await api.get(
            "/api/consumption/day",
            params={"date": day.isoformat()},
            headers=bearer(alice_token[:-4] + "AAAA"),
        )
        assert forged.status_code == 401
        bad_date = await api.get(
            "/api/consumption/day", params={"date": "yesterday"}, headers=bearer(alice_token)
        )
        assert bad_date.status_code == 422

        # A week by day and by hour; too long a range is refused.
        week = await api.get(
            "/api/consumption/range",
            params={
                "device_id": str(kitchen),
                "start": day.isoformat(),
                "end": (day + timedelta(days=6)).isoformat(),
                "bucket": "day",
            },
            headers=bearer(alice_token),
        )
        assert week.status_code == 200, week.text
        points = week.json()["points"]
        assert [p["kwh"] for p in points] == [0.95, 0.125, 0, 0, 0, 0, 0]
        assert points[1]["start"] == f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
        hourly = await api.get(
            "/api/consumption/range",
            params={"device_id": str(kitchen), "start": day.isoformat(), "end": _plus(day, 1)},
            headers=bearer(alice_token),
        )
        assert len(hourly.json()["points"]) == 48
        assert hourly.json()["points"][26]["kwh"] == 0.125
        assert hourly.json()["total_kwh"] == 1.075
        too_long = await api.get(
            "/api/consumption/range",
            params={"start": day.isoformat(), "end": _plus(day, 100), "bucket": "hour"},
            headers=bearer(alice_token),
        )
        assert too_long.status_code == 422

        # CSV export of the same figures.
        export = await api.get(
            "/api/consumption/export.csv",
            params={"device_id": str(kitchen), "start": day.isoformat(), "end": day.isoformat()},
            headers=bearer(alice_token),
        )
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        assert "attachment" in export.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(export.text)))
        assert rows[0] == ["start", "kwh", "cost", "currency"]
        assert len(rows) == 25
        assert rows[4] == [f"{day.isoformat()}T03:00:00+00:00", "0.7", "", ""]
        denied_csv = await api.get(
            "/api/consumption/export.csv",
            params={"device_id": str(bobs), "start": day.isoformat(), "end": day.isoformat()},
            headers=bearer(alice_token),
        )
        assert denied_csv.status_code == 404

        # Alert history: Alice's own, paged; Bob sees none of hers.
        async def alerted() -> bool:
            return await pipeline.db.fetchval("SELECT count(*) FROM alerts") == 1

        await eventually(alerted)
        mine = await api.get("/api/consumption/alerts", headers=bearer(alice_token))
        assert mine.status_code == 200
        page = mine.json()
        assert page["total"] == 1 and page["page"] == 1 and page["size"] == 20
        alert = page["items"][0]
        assert alert["device_id"] == str(kitchen)
        assert alert["kind"] == "hourly"
        assert alert["hour"] == f"{day.isoformat()}T03:00:00Z"
        assert alert["kwh"] == 0.7 and alert["limit_kwh"] == 0.5
        assert set(alert) >= {"id", "device_id", "kind", "hour", "kwh", "limit_kwh", "created_at"}
        theirs = await api.get("/api/consumption/alerts", headers=bearer(bob_token))
        assert theirs.json()["total"] == 0
        peeking = await api.get(
            "/api/consumption/alerts",
            params={"device_id": str(kitchen)},
            headers=bearer(bob_token),
        )
        assert peeking.status_code == 404
        admin_alerts = await api.get(
            "/api/consumption/alerts", params={"size": 1}, headers=bearer(admin_token)
        )
        assert admin_alerts.json()["total"] >= 1 and len(admin_alerts.json()["items"]) == 1

        # The OpenAPI document the gateway's docs page reads (the page itself is the gateway's).
        document = await api.get("/api/consumption/openapi.json")
        assert document.status_code == 200 and "/api/consumption/day" in document.json()["paths"]


def _plus(day: date, days: int) -> str:
    return (day + timedelta(days=days)).isoformat()
