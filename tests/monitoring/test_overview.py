"""The admins' overview and the meters list against a replica fed by the real pipeline:
the figures must be what the meters published (a module of its own: its fleet-wide
figures count every device of the database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ems.contracts.events import DeviceUpdated, TariffCreated
from tests.platform.auth import Identity
from tests.platform.identity import ADMIN, bearer
from tests.platform.pipeline import Pipeline, hour_of
from tests.platform.polling import eventually


async def tariff(pipeline: Pipeline, currency: str, price: float) -> uuid.UUID:
    tariff_id = uuid.uuid4()
    await pipeline.publish_event(
        TariffCreated(id=tariff_id, name=currency, currency=currency, price_per_kwh=price)
    )

    async def copied() -> bool:
        return bool(
            await pipeline.db.fetchval("SELECT count(*) FROM tariffs WHERE id = $1", tariff_id)
        )

    await eventually(copied, timeout=10)
    return tariff_id


async def test_the_overview_shows_what_the_fleet_published(
    pipeline: Pipeline, identity: Identity
) -> None:
    """If this fails, the admins' landing page misstates the fleet: today's kWh or cost
    differ from the readings sent, the top consumers or the devices over their limit are
    wrong, a silent meter is missing, readings per second are not what arrived (on any
    replica), or a client can see the fleet."""
    app = await pipeline.start_replica(0, identity.verifier(), silence_check_seconds=0.2)
    await pipeline.start_replica(1, identity.verifier(), silence_check_seconds=0.2)
    await pipeline.start_balancer()
    admin_token = await identity.token(ADMIN)
    client_id, client_token = await identity.new_client()
    eur, ron = await tariff(pipeline, "EUR", 0.25), await tariff(pipeline, "RON", 0.8)
    kitchen = await pipeline.create_device(
        limit_kwh=1.0, owner_id=client_id, name="Kitchen", wait=True
    )
    await pipeline.publish_event(_with_tariff(kitchen, client_id, "Kitchen", 1.0, eur))
    garage = await pipeline.create_device(owner_id=client_id, name="Garage", wait=True)
    shed = await pipeline.create_device(name="Shed", wait=True)
    await pipeline.publish_event(_with_tariff(shed, None, "Shed", 100.0, ron))
    attic = await pipeline.create_device(name="Attic", silence_minutes=5, wait=True)

    async def priced() -> bool:
        return bool(
            await pipeline.db.fetchval(
                "SELECT count(*) FROM devices WHERE tariff_id IS NOT NULL AND revision = 2"
            )
            == 2
        )

    await eventually(priced, timeout=10)

    # The readings go into this UTC hour, which the overview must still call "this hour"
    # (and "today") when it answers, up to the 30 s `settled` waits below.
    await clear_of_the_hour_end(timedelta(minutes=2))
    now = datetime.now(UTC)
    hour = hour_of(now)
    sent = {kitchen: [0.5, 0.4, 0.3], garage: [0.2], shed: [0.1]}
    for device_id, values in sent.items():
        for i, value in enumerate(values):
            await pipeline.publish_reading(device_id, hour + (now - hour) * (i + 1) / 4, value)

    # The attic never sent: watched from its creation, ten minutes ago.
    async def watched() -> bool:
        status = await pipeline.db.execute(
            "UPDATE device_seen SET watch_from = now() - interval '10 minutes' "
            "WHERE device_id = $1",
            attic,
        )
        return status == "UPDATE 1"

    await eventually(watched, timeout=10)

    async def settled(client: httpx.AsyncClient) -> dict[str, Any] | None:
        response = await client.get(
            "/api/consumption/overview", params={"tz": "UTC"}, headers=bearer(admin_token)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        done = (
            body["today_kwh"] == 1.5
            and body["alerts_today"] == 2
            and body["readings_per_second"] == round(5 / 60, 3)
        )
        return body if done else None

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitoring") as client:
        body = await eventually(lambda: settled(client), timeout=30)
        assert body["time_zone"] == "UTC"
        assert body["devices_total"] == 4
        assert body["today_costs"] == [
            {"currency": "EUR", "amount": 0.3},
            {"currency": "RON", "amount": 0.08},
        ]
        assert [
            (t["device_id"], t["kwh"], t["cost"], t["currency"], t["owner_id"])
            for t in body["top_consumers"]
        ] == [
            (str(kitchen), 1.2, 0.3, "EUR", str(client_id)),
            (str(garage), 0.2, None, None, str(client_id)),
            (str(shed), 0.1, 0.08, "RON", None),
        ]
        assert body["over_limit_this_hour"] == [
            {"device_id": str(kitchen), "name": "Kitchen", "kwh": 1.2, "limit_kwh": 1.0}
        ]
        assert body["silent_meters"] == [
            {"device_id": str(attic), "name": "Attic", "last_seen_at": None}
        ]

        refused = await client.get("/api/consumption/overview", headers=bearer(client_token))
        assert refused.status_code == 403
        unknown = await client.get(
            "/api/consumption/overview", params={"tz": "Mars/Olympus"}, headers=bearer(admin_token)
        )
        assert unknown.status_code == 422
        assert unknown.json()["error"]["code"] == "validation_error"

        # The meters: a client's own, an admin's all, searchable.
        mine = (await client.get("/api/consumption/meters", headers=bearer(client_token))).json()
        assert [m["name"] for m in mine["items"]] == ["Garage", "Kitchen"]
        assert all(m["last_seen_at"] is not None and not m["silent"] for m in mine["items"])
        every = await client.get(
            "/api/consumption/meters", params={"size": 2}, headers=bearer(admin_token)
        )
        assert every.json()["total"] == 4 and len(every.json()["items"]) == 2
        found = await client.get(
            "/api/consumption/meters", params={"q": "TTI"}, headers=bearer(admin_token)
        )
        assert [(m["name"], m["silent"]) for m in found.json()["items"]] == [("Attic", True)]
        # Spaces around the text do not count, a blank search is none, `%` and `_` are literal.
        for q, total in ((" tti  ", 1), ("   ", 4), ("%", 0), ("_", 0)):
            searched = await client.get(
                "/api/consumption/meters", params={"q": q}, headers=bearer(admin_token)
            )
            assert searched.json()["total"] == total, q


async def clear_of_the_hour_end(margin: timedelta) -> None:
    """Returns at once if more than `margin` is left of this UTC hour, else at the start of
    the next one: the overview's "this hour" and "today" are the server's clock's when it
    answers, so readings of the current hour must still be current then."""

    def clear() -> bool:
        now = datetime.now(UTC)
        return hour_of(now) + timedelta(hours=1) - now > margin

    await eventually(
        clear, timeout=margin.total_seconds() + 5, interval=0.5, what="the hour's end past"
    )


def _with_tariff(
    device_id: uuid.UUID,
    owner: uuid.UUID | None,
    name: str,
    limit_kwh: float,
    tariff_id: uuid.UUID,
) -> DeviceUpdated:
    return DeviceUpdated(
        id=device_id,
        name=name,
        owner_id=owner,
        max_hourly_kwh=limit_kwh,
        tariff_id=tariff_id,
        silence_minutes=None,
        revision=2,
    )
