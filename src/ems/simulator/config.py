"""The simulator's settings from four places, the first that has one winning:
command-line flags, `EMS_SIM_*` environment variables, a TOML file (`--config`, or
`EMS_SIM_CONFIG`), the defaults.

Every setting has one name: the flag `--late-by`, the variable `EMS_SIM_LATE_BY`, the TOML
key `late_by` (top level or in a `[faults]` table). Lists (`devices`, `meter_ids`) are
comma-separated in a variable, arrays in TOML; `EMS_SIM_FAULTS="duplicates=0.05,reorder=50"`
sets several fault settings at once (the variable of one fault setting beats it).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ems.contracts.readings import METER_ID

ENV_PREFIX = "EMS_SIM_"
FAULTS = ("duplicates", "reorder", "late", "late_by", "seed")


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text_list(value: Any) -> list[str]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        items = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise ValueError(f"{item!r} is not an id")
            items.append(str(item).strip())
    else:
        raise ValueError(f"{value!r} is not a list")
    return [item for item in items if item]


def _meter_ids(value: Any) -> list[str]:
    """Meter ids; `a-b` of two whole numbers stands for every number from a to b."""
    ids: list[str] = []
    for item in _text_list(value):
        first, dash, last = item.partition("-")
        if dash and first.isdigit() and last.isdigit():
            if int(last) < int(first) or int(last) - int(first) > 100_000:
                raise ValueError(f"meter id range {item} is empty or too long")
            ids += [str(n) for n in range(int(first), int(last) + 1)]
        elif METER_ID.fullmatch(item):
            ids.append(item)
        else:
            raise ValueError(f"{item!r} is not a meter id (1 to 64 letters, digits, '-', '_')")
    return ids


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _number(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        return kind(value)

    return parse


def _moment_value(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment(str(value))


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    parse: Callable[[Any], Any]


OPTIONS: tuple[Option, ...] = (
    Option("devices", [], _text_list),
    Option("meter_ids", [], _meter_ids),
    Option("devices_file", None, Path),
    Option("all", False, _boolean),
    Option("generate", 0, _number(int)),
    Option("refresh", 60.0, _number(float)),
    Option("interval", 600.0, _number(float)),
    Option("speed", 1.0, _number(float)),
    Option("start", None, _moment_value),
    Option("backfill", 0.0, _number(float)),
    Option("no_follow", False, _boolean),
    Option("replay", None, Path),
    Option("rate", None, _number(float)),
    Option("count", None, _number(int)),
    Option("duration", None, _number(float)),
    Option("window", 1000, _number(int)),
    Option("duplicates", 0.0, _number(float)),
    Option("reorder", 0, _number(int)),
    Option("late", 0.0, _number(float)),
    Option("late_by", 500, _number(int)),
    Option("seed", None, _number(int)),
    Option("quiet", False, _boolean),
)
BY_NAME = {option.name: option for option in OPTIONS}


def _parsed(option: Option, value: Any, where: str) -> Any:
    try:
        return option.parse(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    faults = data.pop("faults", {})
    if not isinstance(faults, dict):
        raise ValueError(f"{path}: [faults] must be a table")
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise ValueError(f"{path}: unknown fault setting {unknown[0]!r}")
    values: dict[str, Any] = {}
    for key, value in {**data, **faults}.items():
        option = BY_NAME.get(key)
        if option is None:
            raise ValueError(f"{path}: unknown setting {key!r}")
        values[key] = _parsed(option, value, f"{path}: {key}")
    return values


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    bundle = environ.get(f"{ENV_PREFIX}FAULTS", "").strip()
    for part in filter(None, (p.strip() for p in bundle.split(","))):
        key, equals, value = (s.strip() for s in part.partition("="))
        if not equals or key not in FAULTS:
            raise ValueError(f"{ENV_PREFIX}FAULTS: {part!r} is not <fault>=<value> ({FAULTS})")
        values[key] = _parsed(BY_NAME[key], value, f"{ENV_PREFIX}FAULTS: {key}")
    for option in OPTIONS:
        name = f"{ENV_PREFIX}{option.name.upper()}"
        if name in environ:
            values[option.name] = _parsed(option, environ[name], name)
    return values


def resolve(
    flags: Mapping[str, Any], environ: Mapping[str, str], config: Path | None
) -> dict[str, Any]:
    """Every setting's value: flags (the ones given, i.e. not None) > environment > TOML >
    defaults. `config` (the `--config` flag) falls back to `EMS_SIM_CONFIG`."""
    if config is None and environ.get(f"{ENV_PREFIX}CONFIG"):
        config = Path(environ[f"{ENV_PREFIX}CONFIG"])
    values = {option.name: option.default for option in OPTIONS}
    if config is not None:
        values.update(from_toml(config))
    values.update(from_env(environ))
    values.update(
        {name: value for name, value in flags.items() if name in BY_NAME and value is not None}
    )
    return values
