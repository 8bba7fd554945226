"""The consumption API in the caller's zone, with cost from the device's tariff: local days
of 23/24/25 hours, `tz` overrides, Monday weeks, local months, bands that wrap midnight in
the owner's zone, comparisons and the month so far; readings published as a meter would,
totals checked against them. Raw readings are kept here back to the oldest day sent (New
York's spring change of 2026), so that the daylight-saving days can still be sent."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ems.contracts.events import DeviceCreated, TariffBand, TariffCreated, UserUpdated
from ems.monitoring.settings import MonitoringSettings
from tests.platform.auth import Identity
from tests.platform.identity import ADMIN, bearer
from tests.platform.pipeline import Pipeline, expected_micro, migrated_monitoring_settings
from tests.platform.polling import eventually

H = timedelta(hours=1)
# The oldest reading this module sends.
OLDEST = date(2026, 3, 8)


@pytest.fixture(scope="module")
async def monitoring_settings(
    make_settings: Any, db_prefix: str, module_vhost: str
) -> MonitoringSettings:
    # Counted from today: 300 days stopped reaching 8 March 2026 on 2 January 2027.
    kept = max(300, (datetime.now(UTC).date() - OLDEST).days + 2)
    return await migrated_monitoring_settings(
        make_settings, db_prefix, module_vhost, readings_retention_days=kept
    )


def kwh(values: list[float]) -> float:
    return expected_micro(values) / 1_000_000


@pytest.fixture
async def api(pipeline: Pipeline, identity: Identity) -> AsyncIterator[httpx.AsyncClient]:
    app = await pipeline.start_replica(0, identity.verifier())
    await pipeline.start_balancer()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitoring") as client:
        yield client


async def set_zone(pipeline: Pipeline, user_id: uuid.UUID, zone: str) -> None:
    """The user's profile zone, as users publishes it; waits until monitoring has it."""
    await pipeline.publish_event(
        UserUpdated(
            id=user_id, username=f"u{user_id.hex[:6]}", role="CLIENT", time_zone=zone, revision=2
        )
    )

    async def copied() -> bool:
        found = await pipeline.db.fetchval("SELECT time_zone FROM users WHERE id = $1", user_id)
        return bool(found == zone)

    await eventually(copied)


async def send(pipeline: Pipeline, device: uuid.UUID, readings: dict[datetime, float]) -> None:
    for moment, value in readings.items():
        await pipeline.publish_reading(device, moment, value)

    async def stored() -> bool:
        return await pipeline.readings_count(device) == len(readings)

    await eventually(stored, timeout=20)


def hourly(first: datetime, count: int, base: float) -> dict[datetime, float]:
    """One reading a UTC hour from `first`, each different (so a shifted window shows)."""
    return {first + i * H: round(base + i * 0.013, 3) for i in range(count)}


def inside(readings: dict[datetime, float], start: datetime, end: datetime) -> list[float]:
    return [value for moment, value in readings.items() if start <= moment < end]


async def test_local_days_across_daylight_saving_in_two_zones(
    pipeline: Pipeline, identity: Identity, api: httpx.AsyncClient
) -> None:
    """If this fails, a household in Bucharest or New York sees UTC hours, a daylight-saving
    day shown as 24 hours (an hour lost or counted twice), totals over the wrong hours,
    `tz` ignored, an unknown zone answered with a 500, or weeks that start on Sunday."""
    alice, token = await identity.new_client()
    await set_zone(pipeline, alice, "Europe/Bucharest")
    device = await pipeline.create_device(owner_id=alice)
    await pipeline.wait_for_devices(device)
    # Around each change, from two hours before the local day to two after.
    spring_eu = hourly(datetime(2026, 3, 28, 20, tzinfo=UTC), 28, 0.1)
    autumn_eu = hourly(datetime(2026, 10, 24, 19, tzinfo=UTC), 29, 0.2)
    spring_us = hourly(datetime(2026, 3, 8, 3, tzinfo=UTC), 27, 0.3)
    autumn_us = hourly(datetime(2026, 11, 1, 2, tzinfo=UTC), 29, 0.4)
    sent = spring_eu | autumn_eu | spring_us | autumn_us
    await send(pipeline, device, sent)

    async def day(when: str, **params: str) -> dict[str, Any]:
        response = await api.get(
            "/api/consumption/day",
            params={"date": when, "device_id": str(device), **params},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # Bucharest, the profile's zone: 23 hours, 03:00 never happened.
    spring = await day("2026-03-29")
    assert spring["time_zone"] == "Europe/Bucharest"
    assert len(spring["hours"]) == 23
    labels = [h["hour"] for h in spring["hours"]]
    assert labels[0] == "2026-03-29T00:00:00+02:00"
    assert labels[2:4] == ["2026-03-29T02:00:00+02:00", "2026-03-29T04:00:00+03:00"]
    assert labels[-1] == "2026-03-29T23:00:00+03:00"
    start, end = datetime(2026, 3, 28, 22, tzinfo=UTC), datetime(2026, 3, 29, 21, tzinfo=UTC)
    assert spring["total_kwh"] == kwh(inside(spring_eu, start, end))
    assert [h["kwh"] for h in spring["hours"]] == inside(spring_eu, start, end)
    assert spring["currency"] is None and spring["total_cost"] is None
    assert all(h["cost"] is None for h in spring["hours"])

    # 25 hours: 03:00 twice, at +03:00 then +02:00.
    autumn = await day("2026-10-25")
    labels = [h["hour"] for h in autumn["hours"]]
    assert len(labels) == 25
    assert labels[3:5] == ["2026-10-25T03:00:00+03:00", "2026-10-25T03:00:00+02:00"]
    start, end = datetime(2026, 10, 24, 21, tzinfo=UTC), datetime(2026, 10, 25, 22, tzinfo=UTC)
    assert autumn["total_kwh"] == kwh(inside(autumn_eu, start, end))

    # The same calendar day in UTC (the `tz` override): 24 other hours.
    as_utc = await day("2026-03-29", tz="UTC")
    assert as_utc["time_zone"] == "UTC" and len(as_utc["hours"]) == 24
    start, end = datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)
    assert as_utc["total_kwh"] == kwh(inside(spring_eu, start, end))
    assert as_utc["total_kwh"] != spring["total_kwh"]

    # New York by `tz`: 23 hours on 8 March (02:00 skipped), 25 on 1 November.
    ny_spring = await day("2026-03-08", tz="America/New_York")
    labels = [h["hour"] for h in ny_spring["hours"]]
    assert len(labels) == 23 and ny_spring["time_zone"] == "America/New_York"
    assert labels[1:3] == ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"]
    start, end = datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)
    assert ny_spring["total_kwh"] == kwh(inside(spring_us, start, end))
    ny_autumn = await day("2026-11-01", tz="America/New_York")
    labels = [h["hour"] for h in ny_autumn["hours"]]
    assert len(labels) == 25
    assert labels[1:3] == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"]
    start, end = datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC)
    assert ny_autumn["total_kwh"] == kwh(inside(autumn_us, start, end))

    # An unknown zone: the shared error shape, not a 500.
    for bad in ("Mars/Olympus_Mons", "localtime", ""):
        refused = await api.get(
            "/api/consumption/day", params={"date": "2026-03-29", "tz": bad}, headers=bearer(token)
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["error"]["code"] == "validation_error"

    # Weeks start on Monday: the one of 23-29 March ends at Bucharest's midnight (+03:00).
    weeks = await api.get(
        "/api/consumption/range",
        params={
            "start": "2026-03-25",
            "end": "2026-04-05",
            "bucket": "week",
            "device_id": str(device),
        },
        headers=bearer(token),
    )
    assert weeks.status_code == 200, weeks.text
    points = weeks.json()["points"]
    assert [p["start"] for p in points] == [
        "2026-03-23T00:00:00+02:00",
        "2026-03-30T00:00:00+03:00",
    ]
    monday = datetime(2026, 3, 29, 21, tzinfo=UTC)
    assert points[0]["kwh"] == kwh(inside(spring_eu, datetime(2026, 3, 24, 22, tzinfo=UTC), monday))
    assert points[1]["kwh"] == kwh(inside(spring_eu, monday, monday + 7 * 24 * H))
    assert weeks.json()["time_zone"] == "Europe/Bucharest"

    # Local months in New York: the evening of 31 October local is October's.
    months = await api.get(
        "/api/consumption/range",
        params={
            "start": "2026-10-01",
            "end": "2026-11-30",
            "bucket": "month",
            "device_id": str(device),
            "tz": "America/New_York",
        },
        headers=bearer(token),
    )
    points = months.json()["points"]
    assert [p["start"] for p in points] == [
        "2026-10-01T00:00:00-04:00",
        "2026-11-01T00:00:00-04:00",
    ]
    october, november = datetime(2026, 10, 1, 4, tzinfo=UTC), datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert points[0]["kwh"] == kwh(inside(sent, october, november))
    assert points[1]["kwh"] == kwh(inside(sent, november, november + 30 * 24 * H + H))
    assert months.json()["total_kwh"] == kwh(list(autumn_eu.values()) + list(autumn_us.values()))

    # A local day range by hour holds 23 + 24 hours; spans are bounded.
    hours = await api.get(
        "/api/consumption/range",
        params={"start": "2026-03-29", "end": "2026-03-30", "device_id": str(device)},
        headers=bearer(token),
    )
    assert len(hours.json()["points"]) == 47
    for params in (
        {"start": "2026-01-01", "end": "2026-04-04", "bucket": "hour"},  # 94 days
        {"start": "2023-01-01", "end": "2026-01-01", "bucket": "month"},  # 3 years and a day
        {"start": "2026-03-02", "end": "2026-03-01", "bucket": "day"},
    ):
        too_long = await api.get("/api/consumption/range", params=params, headers=bearer(token))
        assert too_long.status_code == 422, params
        assert too_long.json()["error"]["code"] in {"range_too_long", "invalid_range"}
    three_years = await api.get(
        "/api/consumption/range",
        params={"start": "2024-01-01", "end": "2026-12-31", "bucket": "month"},
        headers=bearer(token),
    )
    assert three_years.status_code == 200 and len(three_years.json()["points"]) == 36


async def test_cost_in_the_owners_zone_with_a_band_that_wraps_midnight(
    pipeline: Pipeline, identity: Identity, api: httpx.AsyncClient
) -> None:
    """If this fails, a night tariff (22:00-06:00) is priced in UTC or the viewer's zone
    instead of the household's, a band's end counts as inside it, a 17:00 hour gets a
    17:30 band's price, cost appears without a tariff or in a mix of currencies, or the
    CSV lacks the cost."""
    bob, bob_token = await identity.new_client()
    await set_zone(pipeline, bob, "Europe/Bucharest")  # +02:00 in November
    admin = await identity.token(ADMIN)
    tariff, lei = uuid.uuid4(), uuid.uuid4()
    await pipeline.publish_event(
        TariffCreated(
            id=tariff,
            name="night and peak",
            currency="EUR",
            price_per_kwh=0.2,
            bands=[
                TariffBand(start="22:00", end="06:00", price_per_kwh=0.1),
                TariffBand(start="17:30", end="20:00", price_per_kwh=0.45),
            ],
        )
    )
    await pipeline.publish_event(
        TariffCreated(id=lei, name="flat", currency="RON", price_per_kwh=1.0)
    )
    priced, unpriced = uuid.uuid4(), uuid.uuid4()
    for device, tariff_id in ((priced, tariff), (unpriced, None)):
        await pipeline.publish_event(
            DeviceCreated(
                id=device, name="m", owner_id=bob, max_hourly_kwh=100.0, tariff_id=tariff_id
            )
        )
    await pipeline.wait_for_devices(priced, unpriced)
    utc = datetime(2026, 11, 20, tzinfo=UTC)
    # UTC hour: (kWh, price by hand in Bucharest time).
    by_hand = {
        3: (0.5, 0.1),  # 05:00 local: night (wraps midnight)
        4: (1.5, 0.2),  # 06:00 local: the night band's end is exclusive
        15: (1.0, 0.2),  # 17:00 local: the peak starts at 17:30, not this hour
        16: (1.0, 0.45),  # 18:00 local: peak
        20: (2.0, 0.1),  # 22:00 local: night (in UTC it would be 0.2)
        23: (1.0, 0.1),  # 01:00 local, the next local day: night
    }
    await send(pipeline, priced, {utc + hour * H: value for hour, (value, _) in by_hand.items()})
    await send(pipeline, unpriced, {utc + 16 * H: 3.0})
    # 0.05 + 0.30 + 0.20 + 0.45 + 0.20 + 0.10
    expected_cost = 1.3

    # Viewed by an admin in UTC: the bands still follow Bob's zone.
    day = await api.get(
        "/api/consumption/day",
        params={"date": "2026-11-20", "device_id": str(priced), "tz": "UTC"},
        headers=bearer(admin),
    )
    assert day.status_code == 200, day.text
    body = day.json()
    assert body["currency"] == "EUR" and body["time_zone"] == "UTC"
    assert body["total_kwh"] == 7.0
    assert body["total_cost"] == expected_cost
    costs = {i: h["cost"] for i, h in enumerate(body["hours"])}
    for hour, (value, price) in by_hand.items():
        assert costs[hour] == round(value * price, 4), hour
    assert costs[0] == 0.0  # zero-filled hours cost nothing, not null

    # Without a tariff: kWh, no cost, no currency.
    bare = await api.get(
        "/api/consumption/day",
        params={"date": "2026-11-20", "device_id": str(unpriced)},
        headers=bearer(bob_token),
    )
    assert bare.json()["total_kwh"] == 3.0
    assert bare.json()["currency"] is None and bare.json()["total_cost"] is None
    assert {h["cost"] for h in bare.json()["hours"]} == {None}

    # All of Bob's devices: both kWh, the priced one's cost; by local day and as CSV.
    everything = await api.get(
        "/api/consumption/range",
        params={"start": "2026-11-20", "end": "2026-11-21", "bucket": "day"},
        headers=bearer(bob_token),
    )
    points = everything.json()["points"]
    assert everything.json()["currency"] == "EUR"
    # 23:00 UTC is 01:00 on the 21st in Bucharest.
    assert [(p["start"], p["kwh"], p["cost"]) for p in points] == [
        ("2026-11-20T00:00:00+02:00", 9.0, 1.2),
        ("2026-11-21T00:00:00+02:00", 1.0, 0.1),
    ]
    assert everything.json()["total_cost"] == expected_cost
    export = await api.get(
        "/api/consumption/export.csv",
        params={"start": "2026-11-20", "end": "2026-11-21", "bucket": "day"},
        headers=bearer(bob_token),
    )
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows == [
        ["start", "kwh", "cost", "currency"],
        ["2026-11-20T00:00:00+02:00", "9.0", "1.2", "EUR"],
        ["2026-11-21T00:00:00+02:00", "1.0", "0.1", "EUR"],
    ]
    bare_csv = await api.get(
        "/api/consumption/export.csv",
        params={"start": "2026-11-20", "end": "2026-11-20", "device_id": str(unpriced)},
        headers=bearer(bob_token),
    )
    assert list(csv.reader(io.StringIO(bare_csv.text)))[1] == [
        "2026-11-20T00:00:00+02:00",
        "0.0",
        "",
        "",
    ]

    # A third device priced in lei: no single currency, so no cost at all (documented).
    mixed = uuid.uuid4()
    await pipeline.publish_event(
        DeviceCreated(id=mixed, name="m", owner_id=bob, max_hourly_kwh=100.0, tariff_id=lei)
    )
    await pipeline.wait_for_devices(mixed)
    both = await api.get(
        "/api/consumption/day", params={"date": "2026-11-20"}, headers=bearer(bob_token)
    )
    assert both.json()["total_kwh"] == 9.0
    assert both.json()["currency"] is None and both.json()["total_cost"] is None


def _zone_at_noon(now: datetime) -> ZoneInfo:
    """A fixed-offset zone where it is now between 12:00 and 13:00, so that a running
    day's cut falls mid-day whatever time the test runs."""
    offset = 12 - now.hour  # -11 .. +12
    return ZoneInfo(f"Etc/GMT{-offset:+d}" if offset else "UTC")


async def test_comparisons_and_the_month_so_far(
    pipeline: Pipeline, identity: Identity, api: httpx.AsyncClient
) -> None:
    """If this fails, 'today so far' is compared with all of yesterday (a running period
    always looks cheaper), a change against nothing shows as a number, or the month's
    projection is not the month so far scaled by its elapsed part."""
    carol, token = await identity.new_client()
    now = datetime.now(UTC)
    zone = _zone_at_noon(now)
    await set_zone(pipeline, carol, zone.key)
    tariff = uuid.uuid4()
    await pipeline.publish_event(
        TariffCreated(id=tariff, name="flat", currency="EUR", price_per_kwh=0.25)
    )
    device = uuid.uuid4()
    await pipeline.publish_event(
        DeviceCreated(id=device, name="m", owner_id=carol, max_hourly_kwh=100.0, tariff_id=tariff)
    )
    await pipeline.wait_for_devices(device)
    today = now.astimezone(zone).date()
    yesterday = today - timedelta(days=1)

    def at(day: date, hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=zone)

    await send(
        pipeline,
        device,
        {
            at(today, 1): 1.0,
            at(today, 2): 1.0,
            at(yesterday, 1): 0.5,  # before the cut: compared
            at(yesterday, 20): 5.0,  # after it: not compared while today runs
        },
    )
    running = await api.get(
        "/api/consumption/compare",
        params={"period": "day", "date": today.isoformat(), "device_id": str(device)},
        headers=bearer(token),
    )
    assert running.status_code == 200, running.text
    body = running.json()
    assert body["partial"] is True and body["time_zone"] == zone.key
    assert body["currency"] == "EUR"
    assert body["current"]["start"] == today.isoformat()
    assert body["current"]["end"] == (today + timedelta(days=1)).isoformat()
    assert (body["current"]["kwh"], body["current"]["cost"]) == (2.0, 0.5)
    assert (body["previous"]["kwh"], body["previous"]["cost"]) == (0.5, 0.125)
    assert body["previous"]["start"] == yesterday.isoformat()
    cut = datetime.fromisoformat(body["previous"]["until"])
    assert abs(cut - (now - timedelta(days=1))) < timedelta(minutes=5)
    assert body["year_before"]["kwh"] == 0.0
    assert body["change_vs_previous_pct"] == 300.0
    assert body["change_vs_year_before_pct"] is None

    # A finished day: whole, and against a day with nothing.
    done = await api.get(
        "/api/consumption/compare",
        params={"period": "day", "date": yesterday.isoformat()},
        headers=bearer(token),
    )
    body = done.json()
    assert body["partial"] is False and body["current"]["until"] is None
    assert body["current"]["kwh"] == 5.5 and body["previous"]["kwh"] == 0.0
    assert body["change_vs_previous_pct"] is None

    month = await api.get("/api/consumption/month-to-date", headers=bearer(token))
    assert month.status_code == 200, month.text
    body = month.json()
    first = today.replace(day=1)
    assert body["month"] == first.strftime("%Y-%m") and body["time_zone"] == zone.key
    so_far = 2.0 + (5.5 if yesterday >= first else 0.0)
    assert body["kwh"] == so_far and body["cost"] == so_far * 0.25
    began = datetime(first.year, first.month, 1, tzinfo=zone)
    ends = datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=zone)
    assert abs(body["elapsed_fraction"] - (now - began) / (ends - began)) < 1e-3
    assert body["projected_kwh"] == pytest.approx(so_far / body["elapsed_fraction"], rel=1e-4)
    assert body["projected_cost"] == pytest.approx(
        so_far * 0.25 / body["elapsed_fraction"], rel=1e-3
    )
    assert body["currency"] == "EUR"
