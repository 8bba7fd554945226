"""The simulator: a believable daily shape, the readings each mode sends, faults, and
confirmed publishing to the broker in the seeds' format."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from ems.cli import build_parser
from ems.common.messaging.topology import METER
from ems.contracts.ingest import SENT_AT_HEADER
from ems.contracts.readings import Reading
from ems.simulator.cli import build_plan, settings_of
from ems.simulator.profile import average_kw, reading_kwh
from ems.simulator.publisher import ReadingPublisher
from ems.simulator.readings import FaultInjector, Faults, Meter, OutgoingReading, span
from ems.simulator.run import Plan, Simulation
from ems.simulator.settings import SimulatorSettings
from tests.platform.broker import TestBroker, admin_url, take_all
from tests.platform.pipeline import PARTITIONS, partition_depth
from tests.platform.polling import eventually

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def test_daily_shape_is_low_at_night_and_peaks_morning_and_evening() -> None:
    """If this fails, the demo charts look like noise instead of a household's day."""
    at = {h: average_kw(MONDAY + timedelta(hours=h)) for h in range(24)}
    assert at[3] < at[7] and at[3] < at[19]
    assert max(at, key=lambda h: at[h]) in (19, 20)
    assert at[7] > at[11], "no morning peak on a weekday"
    saturday = MONDAY + timedelta(days=5)
    assert average_kw(saturday + timedelta(hours=7)) < at[7], "weekend mornings start later"
    assert average_kw(saturday + timedelta(hours=13)) > at[13], "weekend middays are fuller"


def test_values_are_deterministic_per_device_and_time_and_scaled_per_device() -> None:
    """If this fails, a re-run backfill sends different values for the same readings,
    which monitoring would rightly keep as the first one sent: the demo would drift."""
    a, b = uuid.uuid4(), uuid.uuid4()
    end, interval = MONDAY + timedelta(hours=19), timedelta(minutes=10)
    assert reading_kwh(a, end, interval) == reading_kwh(a, end, interval)
    values = {reading_kwh(d, end, interval) for d in (a, b)}
    assert len(values) == 2
    assert reading_kwh(a, end, interval, scale=2.0) > reading_kwh(a, end, interval, scale=0.5)
    assert 0 < reading_kwh(a, end, interval) < 2.0


def test_a_backfilled_day_is_144_readings_per_device_in_the_seeds_format() -> None:
    """If this fails, `--backfill` sends the wrong number of readings or a body that
    monitoring (or an older consumer of the seeds' format) cannot read."""
    meters = [Meter(uuid.uuid4()), Meter(uuid.uuid4())]
    interval = timedelta(minutes=10)
    readings = list(span(meters, MONDAY + interval, MONDAY + timedelta(days=1), interval))
    assert len(readings) == 2 * 144
    parsed = [Reading.model_validate_json(r.body()) for r in readings]
    assert set(json.loads(readings[0].body())) == {"device_id", "timestamp", "measurement_value"}
    assert len({(p.device_id, p.timestamp) for p in parsed}) == 288
    assert min(p.timestamp for p in parsed) == MONDAY + interval
    day_total = sum(p.measurement_value for p in parsed if p.device_id == meters[0].device_id)
    assert 2 < day_total < 40, "a household uses a few to a few dozen kWh a day"


def test_faults_repeat_shuffle_and_delay_but_never_lose_a_reading() -> None:
    """If this fails, fault injection drops readings (so an exactness test would pass for
    the wrong reason) or does not inject the faults it was asked for."""
    readings = [OutgoingReading(str(uuid.uuid4()), f"t{i}", "0.1") for i in range(5000)]
    injector = FaultInjector(
        Faults(duplicates=0.1, reorder=20, late=0.02, late_by=300), random.Random(1)
    )
    out: list[OutgoingReading] = []
    for i in range(0, len(readings), 700):
        out += injector.feed(readings[i : i + 700])
    out += injector.flush()
    counts = Counter(out)
    assert set(counts) == set(readings)
    assert 350 < sum(c - 1 for c in counts.values()) < 650
    position = {r: i for i, r in reversed(list(enumerate(out)))}
    late = [r for i, r in enumerate(readings) if position[r] > i + 250]
    assert len(late) > 40
    assert [position[r] for r in readings] != sorted(position[r] for r in readings)


async def test_simulate_publishes_confirmed_readings_to_the_reading_partitions(
    module_vhost: str, test_broker: TestBroker, tmp_path: Path
) -> None:
    """If this fails, `ems simulate` publishes nothing (or somewhere nothing listens), or
    its readings lack the send-time header the latency figures rely on."""
    devices = [uuid.uuid4() for _ in range(3)]
    file = tmp_path / "meters.txt"
    file.write_text(f"# kitchen and garage\n{devices[0]}\n{devices[1]},2.5\n")
    args = build_parser().parse_args(
        [
            "simulate",
            "--devices-file",
            str(file),
            "--device",
            str(devices[2]),
            "--backfill",
            "1",
            "--no-follow",
            "--duplicates",
            "0.1",
            "--seed",
            "3",
        ]
    )
    plan = await build_plan(args, SimulatorSettings(amqp_url=module_vhost))
    scales = {m.device_id: m.scale for m in plan.meters}
    assert scales == {devices[0]: None, devices[1]: 2.5, devices[2]: None}

    publisher = ReadingPublisher(test_broker.url(module_vhost, METER), window=200)
    await publisher.start()
    connection = await aio_pika.connect(admin_url(module_vhost))
    channel = await connection.channel()
    await take_all(channel, PARTITIONS)
    await Simulation(plan, publisher).run()
    await publisher.close()
    assert publisher.confirmed == publisher.sent > 3 * 144

    seen: Counter[tuple[str, str]] = Counter()
    for message in await take_all(channel, PARTITIONS):
        assert message.user_id == test_broker.login(METER)
        body = json.loads(message.body)
        assert message.routing_key == f"device.{body['device_id']}.reading"
        sent_at = (message.headers or {})[SENT_AT_HEADER]
        assert isinstance(sent_at, int)
        assert abs(sent_at / 1e6 - time.time()) < 120, "not a microsecond timestamp"
        seen[(body["device_id"], body["timestamp"])] += 1
    assert len(seen) == 3 * 144
    assert sum(seen.values()) == publisher.sent
    await connection.close()


async def test_load_mode_sends_exactly_count_distinct_recent_readings(
    module_vhost: str, test_broker: TestBroker
) -> None:
    """If this fails, the benchmark's offered load is not what it claims (repeats, or
    readings too old for monitoring to accept)."""
    publisher = ReadingPublisher(test_broker.url(module_vhost, METER))
    await publisher.start()
    connection = await aio_pika.connect(admin_url(module_vhost))
    channel = await connection.channel()
    await take_all(channel, PARTITIONS)
    meters = [Meter(uuid.uuid4()) for _ in range(7)]
    plan = Plan(meters=meters, rate=5000, count=1000)
    await Simulation(plan, publisher).run()
    await publisher.close()
    await eventually(lambda: _depth(channel, 1000))
    stamps = []
    for message in await take_all(channel, PARTITIONS):
        reading = Reading.model_validate_json(message.body)
        stamps.append((reading.device_id, reading.timestamp))
    assert len(stamps) == len(set(stamps)) == 1000
    oldest = min(t for _, t in stamps)
    assert datetime.now(UTC) - oldest < timedelta(days=2)
    await connection.close()


async def _depth(channel: aio_pika.abc.AbstractChannel, count: int) -> bool:
    return await partition_depth(channel) >= count


async def test_replay_sends_a_csv_as_written_and_a_sped_up_clock_stops_at_the_present(
    module_vhost: str, test_broker: TestBroker, tmp_path: Path
) -> None:
    """If this fails, a replayed file is altered on the way (rounding, reformatted times),
    or a sped-up clock runs into the future, where monitoring refuses the readings."""
    device = uuid.uuid4()
    file = tmp_path / "readings.csv"
    file.write_text(
        "device_id,timestamp,measurement_value\n"
        f"{device},2026-11-20T10:10:00Z,0.1234567\n"
        f"{device},1763633400000,2\n"
    )
    publisher = ReadingPublisher(test_broker.url(module_vhost, METER))
    await publisher.start()
    connection = await aio_pika.connect(admin_url(module_vhost))
    channel = await connection.channel()
    await take_all(channel, PARTITIONS)
    await Simulation(Plan(meters=[], replay=file), publisher).run()
    await eventually(lambda: _depth(channel, 2))
    # One device: one partition, in publish order.
    bodies = [message.body for message in await take_all(channel, PARTITIONS)]
    assert b'"measurement_value": 0.1234567' in bodies[0]
    assert json.loads(bodies[1])["timestamp"] == 1763633400000

    # Two simulated hours at 7200x: the whole span in about a second, then real time.
    start = datetime.now(UTC) - timedelta(hours=2)
    live = Simulation(Plan(meters=[Meter(device)], start=start, speed=7200), publisher)
    running = asyncio.create_task(live.run())
    await eventually(lambda: _depth(channel, 12), timeout=10)
    running.cancel()
    await publisher.close()
    stamps = [
        Reading.model_validate_json(message.body).timestamp
        for message in await take_all(channel, PARTITIONS)
    ]
    assert 12 <= len(stamps) <= 13
    assert stamps == sorted(stamps)
    assert max(stamps) <= datetime.now(UTC)
    await connection.close()


def test_settings_come_from_flags_then_env_then_toml_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a simulator configured like the seeds' (EMS_SIM_* variables, a TOML
    file) ignores a setting, or the wrong source wins when two give one: flags must beat
    the environment, the environment the file, the file the defaults."""
    file = tmp_path / "sim.toml"
    file.write_text(
        'meter_ids = [7, "kitchen-2"]\ninterval = 60\nspeed = 10\nbackfill = 1\n'
        "[faults]\nduplicates = 0.2\nreorder = 5\nseed = 9\n"
    )
    for name in [n for n in os.environ if n.startswith("EMS_SIM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EMS_SIM_SPEED", "30")
    monkeypatch.setenv("EMS_SIM_FAULTS", "duplicates=0.05,late=0.01")
    monkeypatch.setenv("EMS_SIM_SEED", "4")

    def settings(*flags: str) -> Any:
        return settings_of(build_parser().parse_args(["simulate", *flags]))

    got = settings("--config", str(file), "--interval", "15")
    assert got.interval == 15.0, "the flag loses to the file"
    assert got.speed == 30.0, "the environment loses to the file"
    assert got.meter_ids == ["7", "kitchen-2"]
    assert got.backfill == 1.0 and got.reorder == 5, "the file's settings are ignored"
    assert (got.duplicates, got.late, got.seed) == (0.05, 0.01, 4), "EMS_SIM_FAULTS ignored"
    assert got.late_by == 500 and got.window == 1000 and got.devices == [], "defaults lost"
    assert settings("--config", str(file), "--speed", "2", "--seed", "1").speed == 2.0

    monkeypatch.setenv("EMS_SIM_CONFIG", str(file))
    monkeypatch.setenv("EMS_SIM_METER_IDS", "1-3,x_9")
    got = settings()
    assert got.meter_ids == ["1", "2", "3", "x_9"] and got.interval == 60.0
    assert settings("--meter-ids", "12").meter_ids == ["12"]

    file.write_text("intervall = 60\n")
    with pytest.raises(ValueError, match="intervall"):
        settings()
    monkeypatch.setenv("EMS_SIM_CONFIG", "")
    monkeypatch.setenv("EMS_SIM_INTERVAL", "soon")
    with pytest.raises(ValueError, match="EMS_SIM_INTERVAL"):
        settings()


async def test_meters_by_meter_id_send_numeric_ids_as_json_numbers(
    module_vhost: str, test_broker: TestBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, `--meter-ids` does not play the meters as the seeds' meters name
    themselves: a numeric meter id must go out as a JSON number under its own routing key
    (so all of one meter's readings share one partition), any other as a string."""
    for name in [n for n in os.environ if n.startswith("EMS_SIM_")]:
        monkeypatch.delenv(name)
    args = build_parser().parse_args(
        ["simulate", "--meter-ids", "7,gas-1", "--backfill", "0.05", "--no-follow"]
    )
    plan = await build_plan(args, SimulatorSettings(amqp_url=module_vhost))
    publisher = ReadingPublisher(test_broker.url(module_vhost, METER))
    await publisher.start()
    connection = await aio_pika.connect(admin_url(module_vhost))
    channel = await connection.channel()
    await take_all(channel, PARTITIONS)
    await Simulation(plan, publisher).run()
    await publisher.close()
    await eventually(lambda: _depth(channel, publisher.sent))
    ids: Counter[object] = Counter()
    for message in await take_all(channel, PARTITIONS):
        body = json.loads(message.body)
        assert message.routing_key == f"device.{body['device_id']}.reading"
        ids[body["device_id"]] += 1
    assert set(ids) == {7, "gas-1"} and ids[7] == ids["gas-1"] > 0
    await connection.close()
