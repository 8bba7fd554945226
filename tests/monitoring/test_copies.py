"""Monitoring's copies of users, tariffs and device details, and the owner periods it
records from device events: what the consumption API's zones, costs and privacy rest on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from ems.contracts.events import (
    DeviceCreated,
    DeviceUpdated,
    TariffBand,
    TariffCreated,
    TariffDeleted,
    TariffUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from tests.platform.pipeline import Pipeline
from tests.platform.polling import eventually


async def _fetch(pipeline: Pipeline, query: str, *args: object) -> list[dict[str, object]]:
    return [dict(row) for row in await pipeline.db.fetch(query, *args)]


async def test_users_and_tariffs_are_copied_in_revision_order(pipeline: Pipeline) -> None:
    """If this fails, monitoring shows figures in a zone the user no longer has, trusts a
    role the user lost, or prices consumption with a tariff's old or deleted prices."""
    await pipeline.start_replica(0)
    user, tariff, gone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await pipeline.publish_event(
        UserCreated(id=user, username="ana", role="ADMIN", time_zone="Europe/Bucharest")
    )
    await pipeline.publish_event(
        UserUpdated(id=user, username="ana", role="CLIENT", time_zone="Asia/Tokyo", revision=3)
    )
    # Stale: must change nothing whenever it arrives.
    await pipeline.publish_event(
        UserUpdated(id=user, username="ana", role="ADMIN", time_zone="UTC", revision=2)
    )
    night = TariffBand(start="22:00", end="06:00", price_per_kwh=0.1)
    await pipeline.publish_event(
        TariffCreated(id=tariff, name="t", currency="EUR", price_per_kwh=0.3, bands=[night])
    )
    peak = TariffBand(start="17:30", end="20:00", price_per_kwh=0.45)
    await pipeline.publish_event(
        TariffUpdated(
            id=tariff, name="t2", currency="RON", price_per_kwh=0.7, bands=[night, peak], revision=2
        )
    )
    await pipeline.publish_event(
        TariffCreated(id=gone, name="old", currency="EUR", price_per_kwh=1.0, bands=[night])
    )
    await pipeline.publish_event(TariffDeleted(id=gone, revision=2))
    await pipeline.publish_event(UserDeleted(id=uuid.uuid4(), revision=5))

    async def settled() -> bool:
        rows = await _fetch(pipeline, "SELECT revision FROM tariffs WHERE revision = 2")
        users = await _fetch(pipeline, "SELECT 1 FROM users WHERE deleted")
        return len(rows) == 2 and len(users) == 1

    await eventually(settled)
    marker = await pipeline.create_device()
    await pipeline.wait_for_devices(marker)  # the queue has moved past the stale event
    assert await _fetch(
        pipeline, "SELECT role, time_zone, revision, deleted FROM users WHERE id = $1", user
    ) == [{"role": "CLIENT", "time_zone": "Asia/Tokyo", "revision": 3, "deleted": False}]
    assert await _fetch(
        pipeline,
        "SELECT name, currency, price_per_kwh, deleted FROM tariffs WHERE id = ANY($1::uuid[])"
        " ORDER BY name",
        [tariff, gone],
    ) == [
        {"name": "old", "currency": "EUR", "price_per_kwh": Decimal("1.0"), "deleted": True},
        {"name": "t2", "currency": "RON", "price_per_kwh": Decimal("0.7"), "deleted": False},
    ]
    assert await _fetch(
        pipeline,
        "SELECT tariff_id, position, start_minute, end_minute, price_per_kwh FROM tariff_bands"
        " WHERE tariff_id = ANY($1::uuid[]) ORDER BY position",
        [tariff, gone],
    ) == [
        {
            "tariff_id": tariff,
            "position": 0,
            "start_minute": 22 * 60,
            "end_minute": 6 * 60,
            "price_per_kwh": Decimal("0.1"),
        },
        {
            "tariff_id": tariff,
            "position": 1,
            "start_minute": 17 * 60 + 30,
            "end_minute": 20 * 60,
            "price_per_kwh": Decimal("0.45"),
        },
    ]


async def test_device_details_and_owner_periods_follow_device_events(pipeline: Pipeline) -> None:
    """If this fails, monitoring does not know a device's tariff, meter id or silence limit,
    or it cannot tell who owned a meter when: a new owner would see the previous
    household's consumption, or the first owner would lose the meter's backfilled history."""
    await pipeline.start_replica(0)
    device, alice, bob, tariff = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await pipeline.publish_event(
        DeviceCreated(
            id=device,
            name="kitchen",
            owner_id=alice,
            max_hourly_kwh=2.0,
            tariff_id=tariff,
            meter_id="7",
            silence_minutes=15,
        ),
        occurred_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    )
    handed_over = datetime(2026, 3, 10, 14, 25, 30, tzinfo=UTC)
    await pipeline.publish_event(
        DeviceUpdated(
            id=device,
            name="kitchen",
            owner_id=bob,
            max_hourly_kwh=2.0,
            meter_id="7",
            silence_minutes=None,
            revision=2,
        ),
        occurred_at=handed_over,
    )
    # A rename changes no owner: no new period.
    await pipeline.publish_event(
        DeviceUpdated(
            id=device, name="cooker", owner_id=bob, max_hourly_kwh=2.0, meter_id="7", revision=3
        ),
        occurred_at=datetime(2026, 3, 11, tzinfo=UTC),
    )

    async def renamed() -> bool:
        rows = await _fetch(
            pipeline, "SELECT 1 FROM devices WHERE id = $1 AND revision = 3", device
        )
        return bool(rows)

    await eventually(renamed)
    assert await _fetch(
        pipeline, "SELECT tariff_id, meter_id, silence_minutes FROM devices WHERE id = $1", device
    ) == [{"tariff_id": None, "meter_id": "7", "silence_minutes": 30}]
    assert await _fetch(
        pipeline,
        "SELECT owner_id, since, until FROM device_owners WHERE device_id = $1 ORDER BY id",
        device,
    ) == [
        {"owner_id": alice, "since": None, "until": handed_over},
        {"owner_id": bob, "since": handed_over, "until": None},
    ]
    # Bob's first visible hour is the next whole hour after the hand-over.
    assert await _fetch(
        pipeline, "SELECT owner_id, visible_from FROM current_owners WHERE device_id = $1", device
    ) == [{"owner_id": bob, "visible_from": datetime(2026, 3, 10, 15, tzinfo=UTC)}]
