"""`ems simulate`: play smart meters that publish readings to `ems.data`.

ems simulate --device ID [--device ID ...]          live, a reading every 10 minutes
ems simulate --devices-file meters.txt --backfill 7 the past week first, then live
ems simulate --all --interval 60                    every device of the platform
ems simulate --start 2026-11-01 --speed 360         November, an hour every 10 s
ems simulate --replay readings.csv                  a recorded stream, as written
ems simulate --generate 1000 --rate 5000 --duration 60   load mode (benchmarks)
ems simulate --meter-ids 1-24 --interval 60         meters named by their meter ids
... --duplicates 0.05 --reorder 50 --late 0.01      fault injection
ems simulate --config sim.toml                      settings from a TOML file

Every setting also comes from `EMS_SIM_<NAME>` (EMS_SIM_DEVICES, EMS_SIM_METER_IDS,
EMS_SIM_INTERVAL, EMS_SIM_SPEED, EMS_SIM_FAULTS="duplicates=0.05,reorder=50", ...) and from
the TOML file (`interval = 60`, `meter_ids = [7, 8]`, `[faults] duplicates = 0.05`):
flags > environment > TOML > defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from ems.common.messaging.credentials import connection_url
from ems.common.messaging.topology import METER
from ems.simulator import config
from ems.simulator.config import moment
from ems.simulator.devices import meters_from_file, platform_meters
from ems.simulator.publisher import Progress, ReadingPublisher
from ems.simulator.readings import Faults, Meter, meter_by_id
from ems.simulator.run import Plan, Simulation
from ems.simulator.settings import SimulatorSettings


def register_commands(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="play smart meters publishing readings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # No defaults here: a flag not given is None, so the environment, the TOML file or the
    # default (ems.simulator.config) decides.
    parser.add_argument("--config", type=Path, metavar="FILE.toml", help="settings file")
    which = parser.add_argument_group("which meters")
    which.add_argument("--device", dest="devices", action="append", help="a device id (repeatable)")
    which.add_argument(
        "--meter-ids",
        type=_meter_ids,
        metavar="IDS",
        help="meters by meter id, as the seeds' meters name themselves: `7,8` or `1-24`",
    )
    which.add_argument("--devices-file", type=Path, help="one device id per line (`id,scale`)")
    which.add_argument(
        "--all",
        action="store_true",
        default=None,
        help="every device of the platform (admin login from EMS_ADMIN_USERNAME/PASSWORD)",
    )
    which.add_argument("--generate", type=int, help="this many random device ids")
    which.add_argument("--refresh", type=float, help="seconds between --all lists (60)")

    when = parser.add_argument_group("when")
    when.add_argument("--interval", type=float, help="seconds between readings (600)")
    when.add_argument("--speed", type=float, help="simulated seconds per second (1)")
    when.add_argument("--start", type=moment, help="simulated clock start (ISO, UTC)")
    when.add_argument("--backfill", type=float, metavar="DAYS")
    when.add_argument(
        "--no-follow", action="store_true", default=None, help="stop after the backfill"
    )
    when.add_argument("--replay", type=Path, metavar="FILE.csv")

    load = parser.add_argument_group("load mode")
    load.add_argument("--rate", type=float, help="readings per second")
    load.add_argument("--count", type=int, help="this many readings, then stop")
    load.add_argument("--duration", type=float, help="seconds, then stop")
    load.add_argument("--window", type=int, help="unconfirmed readings at most (1000)")

    faults = parser.add_argument_group("faults")
    faults.add_argument("--duplicates", type=float, metavar="P")
    faults.add_argument("--reorder", type=int, metavar="WINDOW")
    faults.add_argument("--late", type=float, metavar="P")
    faults.add_argument("--late-by", type=int, metavar="READINGS")
    faults.add_argument("--seed", type=int)
    parser.add_argument("--quiet", action="store_true", default=None, help="no progress line")
    parser.set_defaults(func=_simulate)


def _meter_ids(text: str) -> list[str]:
    try:
        return config.BY_NAME["meter_ids"].parse(text)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def settings_of(args: argparse.Namespace) -> argparse.Namespace:
    """The flags given, completed from EMS_SIM_*, the TOML file and the defaults (settings
    completed once come back the same)."""
    flags = vars(args)
    values = config.resolve(flags, os.environ, flags.get("config"))
    return argparse.Namespace(**values, config=None)


def _simulate(args: argparse.Namespace) -> int:
    settings = SimulatorSettings()
    try:
        return _run_loop(_main(args, settings))
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:
        print(f"ems simulate: {exc}", file=sys.stderr)
        return 2


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    # uvloop (installed with uvicorn[standard]) roughly halves the client's cost per message.
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on every platform
        return asyncio.run(main)
    return uvloop.run(main)


async def _main(flags: argparse.Namespace, settings: SimulatorSettings) -> int:
    args = settings_of(flags)
    plan = await build_plan(args, settings)
    publisher = ReadingPublisher(connection_url(settings, METER), window=args.window)
    await publisher.start()
    progress = None if args.quiet else Progress(publisher)
    if progress is not None:
        progress.start()
    try:
        await Simulation(plan, publisher).run()
    finally:
        if progress is not None:
            await progress.stop()
        await publisher.close()
    return 0


async def build_plan(args: argparse.Namespace, settings: SimulatorSettings) -> Plan:
    args = settings_of(args)
    meters = [Meter(uuid.UUID(device)) for device in args.devices]
    meters += [meter_by_id(meter_id) for meter_id in args.meter_ids]
    if args.devices_file:
        meters += meters_from_file(args.devices_file)
    meters += [Meter(uuid.uuid4()) for _ in range(args.generate)]
    refresh = None
    if args.all:
        if not settings.admin_username or not settings.admin_password:
            raise ValueError("--all needs EMS_ADMIN_USERNAME and EMS_ADMIN_PASSWORD")
        user, password, url = (
            settings.admin_username,
            settings.admin_password,
            settings.simulator_api_url,
        )

        async def refresh() -> list[Meter]:
            return await platform_meters(url, user, password)

        meters += await refresh()
    if not meters and args.replay is None and not args.all:
        raise ValueError(
            "no meters: give --device, --meter-ids, --devices-file, --all or --generate"
        )
    if (args.count or args.duration) and not meters:
        raise ValueError("the load mode needs meters: --generate N, --device or --devices-file")
    if args.duration is not None and args.rate is None:
        raise ValueError("--duration needs --rate")
    return Plan(
        meters=meters,
        interval=timedelta(seconds=args.interval),
        speed=args.speed,
        start=args.start,
        backfill_days=args.backfill,
        follow=not args.no_follow,
        replay=args.replay,
        rate=args.rate,
        count=args.count,
        duration=args.duration,
        faults=Faults(args.duplicates, args.reorder, args.late, args.late_by),
        seed=args.seed,
        refresh=refresh if args.all else None,
        refresh_every=args.refresh,
    )
