"""The asker's own figures, read from monitoring's public consumption API with the asker's
own bearer token (and, for "which device", the asker's own devices from the devices service,
with the same token).

Monitoring applies its own rules to that token (a client sees only the devices they own now,
in their profile's time zone), so the assistant can never tell a user more than their
consumption pages show, and says exactly what the API says. Whatever goes wrong (monitoring
down, slow, or answering anything but figures) is `FiguresUnavailable`: the caller answers
politely instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from prometheus_client import Counter

log = logging.getLogger(__name__)

FIGURE_CALLS = Counter(
    "ems_support_figure_calls_total", "Calls to monitoring's consumption API", ["outcome"]
)
T = TypeVar("T")
# Devices whose figures are read at once for "which device uses the most".
PARALLEL_DEVICE_READS = 8
# Pages of the asker's devices read at most (of 100 each).
MAX_DEVICE_PAGES = 5


class FiguresUnavailable(Exception):
    """Monitoring gave no figures (unreachable, too slow, or an unexpected answer)."""


class ConsumptionApi:
    """monitoring's `/api/consumption/*` (and the devices service's `/api/devices`), at their
    direct (internal) addresses."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, timeout: float, devices_url: str = ""
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.devices_url = devices_url.rstrip("/")
        # The hard limit of a whole answer, however many calls it takes.
        self.timeout = timeout

    def of(self, token: str) -> Asker:
        return Asker(self, token)

    async def get(
        self, token: str, path: str, params: dict[str, str], *, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        """The JSON object monitoring answers to `GET /api/consumption/{path}` for the token's
        owner; None for a 404 when `missing_ok` (a device that is no longer theirs)."""
        return await self._get(
            self.base_url, f"/api/consumption/{path}", token, params, missing_ok=missing_ok
        )

    async def devices_page(self, token: str, page: int, size: int) -> dict[str, Any]:
        """A page of the token owner's own devices, from the devices service."""
        params = {"page": str(page), "size": str(size)}
        body = await self._get(self.devices_url, "/api/devices", token, params)
        assert body is not None
        return body

    async def _get(
        self,
        base_url: str,
        path: str,
        token: str,
        params: dict[str, str],
        *,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        if not base_url:
            raise FiguresUnavailable(f"no address configured for {path}")
        try:
            response = await self.http.get(
                f"{base_url}{path}",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            FIGURE_CALLS.labels("error").inc()
            raise FiguresUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 404 and missing_ok:
            FIGURE_CALLS.labels("missing").inc()
            return None
        if response.status_code != 200:
            FIGURE_CALLS.labels("error").inc()
            raise FiguresUnavailable(f"{path}: status {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            FIGURE_CALLS.labels("error").inc()
            raise FiguresUnavailable(f"{path}: not JSON") from exc
        if not isinstance(body, dict):
            FIGURE_CALLS.labels("error").inc()
            raise FiguresUnavailable(f"{path}: not an object")
        FIGURE_CALLS.labels("ok").inc()
        return body


@dataclass
class Asker:
    """One user's figures, as monitoring answers that user's token; remembers what it has
    read for the length of one answer."""

    api: ConsumptionApi
    token: str
    _today: tuple[ZoneInfo, date] | None = None
    _days: dict[date, dict[str, Any]] = field(default_factory=dict)

    async def read(self, path: str, **params: object) -> dict[str, Any]:
        body = await self.api.get(self.token, path, _query(params))
        assert body is not None
        return body

    async def today(self) -> tuple[ZoneInfo, date]:
        """The asker's zone (the one monitoring answers in) and the date there now.

        monitoring answers in the caller's profile zone: a day read for the UTC date names
        it, and is kept when it is also the local date (most of the time)."""
        if self._today is None:
            utc_today = datetime.now(UTC).date()
            body = await self.read("day", date=utc_today)
            zone = zone_of(body)
            local = datetime.now(zone).date()
            if local == utc_today:
                self._days[local] = body
            self._today = (zone, local)
        return self._today

    async def day(self, day: date, device_id: str | None = None) -> dict[str, Any]:
        """`/day` for the asker's devices together (or one of them)."""
        if device_id is None and day in self._days:
            return self._days[day]
        body = await self.read("day", date=day, device_id=device_id)
        if device_id is None:
            self._days[day] = body
        return body

    async def range(self, first: date, last: date, bucket: str) -> dict[str, Any]:
        return await self.read("range", start=first, end=last, bucket=bucket)

    async def device_total(self, device_id: str, first: date, last: date) -> float | None:
        """A device's kWh over the days (None when monitoring no longer shows it)."""
        if first == last:
            body = await self.api.get(
                self.token, "day", _query({"date": first, "device_id": device_id}), missing_ok=True
            )
        else:
            params = {"start": first, "end": last, "bucket": "day", "device_id": device_id}
            body = await self.api.get(self.token, "range", _query(params), missing_ok=True)
        return None if body is None else number(body.get("total_kwh"))

    async def devices(self) -> list[dict[str, Any]]:
        """The asker's own devices (`id`, `name`), as the devices service lists them to the
        asker; their figures then come from monitoring, which skips any not theirs now."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_DEVICE_PAGES + 1):
            body = await self.api.devices_page(self.token, page, 100)
            items = body.get("items")
            if not isinstance(items, list):
                raise FiguresUnavailable("devices: no items")
            found.extend(item for item in items if isinstance(item, dict))
            if len(found) >= int(body.get("total") or 0) or not items:
                break
        return found

    async def alerts(self, size: int) -> dict[str, Any]:
        """The latest `size` alerts, with the total."""
        return await self.read("alerts", page=1, size=size)

    async def unread_alerts(self) -> int | None:
        body = await self.api.get(self.token, "alerts/unread-count", {}, missing_ok=True)
        if body is None or not isinstance(body.get("count"), int):
            return None
        count: int = body["count"]
        return count

    async def month_to_date(self) -> dict[str, Any]:
        return await self.read("month-to-date")


async def gather_limited(calls: list[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run the calls concurrently, at most `limit` at a time, results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


def zone_of(body: dict[str, Any]) -> ZoneInfo:
    """The zone a consumption answer is in ("UTC" when it names none)."""
    name = body.get("time_zone") or "UTC"
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FiguresUnavailable(f"unknown time zone {name!r}") from exc


def number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FiguresUnavailable(f"not a number: {value!r}")
    return float(value)


def _query(params: dict[str, object]) -> dict[str, str]:
    return {
        k: v.isoformat() if isinstance(v, date) else str(v)
        for k, v in params.items()
        if v is not None
    }
