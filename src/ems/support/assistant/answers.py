"""The assistant's answers from the asker's own figures, in the asker's time zone.

Every figure comes from monitoring's consumption API called with the asker's token
(`figures`), so an answer says what the consumption pages say: kWh to two decimals
("3.27 kWh"), costs with their currency, days and hours in the zone monitoring answered in
(the asker's profile zone). The whole answer has a hard time limit; past it, or
with monitoring down, the user is told politely that their figures cannot be seen now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ems.support.assistant.bot import FigureQuestion, PeriodName
from ems.support.assistant.figures import (
    PARALLEL_DEVICE_READS,
    Asker,
    ConsumptionApi,
    FiguresUnavailable,
    gather_limited,
    number,
    zone_of,
)

log = logging.getLogger(__name__)

UNAVAILABLE_ANSWER = (
    "Sorry, I can't see your figures right now. Please try again in a few minutes; your "
    "Consumption page shows them too once they are back."
)
# Periods the topics answer about when the question names none.
DEFAULT_PERIOD: dict[str, PeriodName] = {
    "total": "today",
    "peak": "today",
    "top_device": "this_month",
    "cost": "this_month",
}


@dataclass(frozen=True)
class Period:
    """Local days [first, last] and how to speak of them."""

    first: date
    last: date
    # "today", "this week (since Monday 30 November)"...
    label: str
    # Still running: "have used ... so far".
    running: bool

    @property
    def one_day(self) -> bool:
        return self.first == self.last


async def answer(api: ConsumptionApi, token: str, question: FigureQuestion) -> str:
    """The answer to a question about the asker's own figures (or the polite apology)."""
    return await _within(api, lambda: _answer(api.of(token), question), UNAVAILABLE_ANSWER)


async def summary(api: ConsumptionApi, token: str) -> str:
    """A few lines of the asker's own figures, for the LLM fallback's prompt."""
    unavailable = "The user's own figures cannot be read right now."
    return await _within(api, lambda: _summary(api.of(token)), unavailable)


async def _within(api: ConsumptionApi, make: Callable[[], Awaitable[str]], fallback: str) -> str:
    try:
        async with asyncio.timeout(api.timeout):
            return await make()
    except TimeoutError:
        log.warning("figures timed out", extra={"timeout": api.timeout})
    except FiguresUnavailable as exc:
        log.warning("figures unavailable", extra={"error": str(exc)})
    except (KeyError, TypeError, ValueError) as exc:
        # An answer of monitoring's that is not the shape this service reads.
        log.warning("figures malformed", extra={"error": f"{type(exc).__name__}: {exc}"})
    return fallback


async def _answer(asker: Asker, question: FigureQuestion) -> str:
    if question.topic == "alerts":
        return await _alerts(asker)
    if question.topic == "cost" and question.period is None:
        return await _month_cost(asker)
    zone, today = await asker.today()
    period = resolve(question.period or DEFAULT_PERIOD[question.topic], today)
    if question.topic == "peak":
        return await _peak(asker, zone, period)
    if question.topic == "top_device":
        return await _top_device(asker, period)
    return await _total(asker, zone, period)


def resolve(period: PeriodName | date, today: date) -> Period:
    """The local days of a period, `today` being the asker's local date."""
    monday = today - timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    if isinstance(period, date):
        return Period(period, period, f"on {_long_day(period, year=True)}", period == today)
    if period == "today":
        return Period(today, today, "today", True)
    if period == "yesterday":
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday, "yesterday", False)
    if period == "this_week":
        return Period(monday, today, f"this week (since {_long_day(monday)})", True)
    if period == "last_week":
        start, end = monday - timedelta(days=7), monday - timedelta(days=1)
        return Period(start, end, f"last week ({_long_day(start)} to {_long_day(end)})", False)
    if period == "this_month":
        return Period(
            first_of_month, today, f"this month (since {_day_month(first_of_month)})", True
        )
    last_month_end = first_of_month - timedelta(days=1)
    first = last_month_end.replace(day=1)
    return Period(first, last_month_end, f"last month ({first:%B %Y})", False)


async def _figures(asker: Asker, period: Period) -> dict[str, Any]:
    if period.one_day:
        return await asker.day(period.first)
    return await asker.range(period.first, period.last, "day")


async def _total(asker: Asker, zone: ZoneInfo, period: Period) -> str:
    figures = await _figures(asker, period)
    kwh = number(figures["total_kwh"])
    verb = "have used" if period.running else "used"
    so_far = " so far" if period.running else ""
    text = f"{_capital(period.label)} you {verb} {kwh_text(kwh)}{so_far}{_cost_part(figures)}"
    note = _day_length_note(figures) if period.one_day else ""
    return f"{text}.{note} {_zone_note(zone)}"


async def _peak(asker: Asker, zone: ZoneInfo, period: Period) -> str:
    if period.one_day:
        figures = await asker.day(period.first)
        hours = [(str(h["hour"]), number(h["kwh"])) for h in figures["hours"]]
    else:
        figures = await asker.range(period.first, period.last, "hour")
        hours = [(str(p["start"]), number(p["kwh"])) for p in figures["points"]]
    if not hours or max(kwh for _, kwh in hours) <= 0:
        return f"You have no consumption recorded {period.label}, so there is no peak yet."
    start, kwh = max(hours, key=lambda hour: hour[1])  # the earliest of equal peaks
    begins = _local(start, zone)
    ends = _local_end(begins, zone)
    when = f"between {begins:%H:%M} and {ends:%H:%M}"
    if _repeated(begins, [h for h, _ in hours], zone):
        # A clock hour that happened twice that day (the clocks went back): name which.
        when += f" ({_utc_offset(begins)})"
    on = "" if period.one_day else f" on {_long_day(begins.date())}"
    return f"Your peak {period.label} was{on} {when}, with {kwh_text(kwh)}. {_zone_note(zone)}"


async def _top_device(asker: Asker, period: Period) -> str:
    devices = await asker.devices()
    if not devices:
        return "You have no devices yet: an admin assigns them to you (ask in Admin mode)."

    def reader(device: dict[str, Any]) -> Callable[[], Awaitable[float | None]]:
        return lambda: asker.device_total(str(device["id"]), period.first, period.last)

    totals = await gather_limited([reader(d) for d in devices], PARALLEL_DEVICE_READS)
    ranked = sorted(
        (
            (kwh, str(d.get("name") or d["id"]))
            for d, kwh in zip(devices, totals, strict=True)
            if kwh is not None
        ),
        key=lambda item: -item[0],
    )
    if not ranked or ranked[0][0] <= 0:
        return f"None of your devices has used any energy {period.label}."
    kwh, name = ranked[0]
    whole = sum(k for k, _ in ranked)
    share = round(100 * kwh / whole) if whole > 0 else 100
    text = (
        f"{name} used the most {period.label}: {kwh_text(kwh)}, {share}% of your {kwh_text(whole)}."
    )
    others = [f"{n} {kwh_text(k)}" for k, n in ranked[1:3] if k > 0]
    if others:
        text += " Then " + (" and ".join(others)) + "."
    return text


async def _alerts(asker: Asker) -> str:
    page, unread = await asyncio.gather(asker.alerts(1), asker.unread_alerts())
    total = int(page["total"])
    if total == 0:
        return "You have no alerts: your devices have stayed within their limits."
    counted = f"You have {total} alert{'s' if total != 1 else ''}"
    if unread is not None:
        counted += f", {unread} of them unread"
    latest = page["items"][0] if page["items"] else None
    if latest is None:
        return f"{counted}."
    return f"{counted}. The latest: {_alert_text(latest)}"


async def _month_cost(asker: Asker) -> str:
    month = await asker.month_to_date()
    zone = zone_of(month)
    kwh = number(month["kwh"])
    label = f"this month so far ({_month_name(str(month['month']))})"
    currency, cost = month.get("currency"), month.get("cost")
    if not currency or cost is None:
        return (
            f"You have used {kwh_text(kwh)} {label}, but I can't put a price on it: your "
            "devices have no tariff (or tariffs in different currencies). An admin can set "
            "one; ask in Admin mode."
        )
    text = f"Your energy {label} cost {money(number(cost), currency)} for {kwh_text(kwh)}"
    projected = month.get("projected_cost")
    if projected is not None:
        text += (
            f"; at this pace the whole month comes to about {money(number(projected), currency)}"
        )
    return f"{text}. {_zone_note(zone)}"


async def _summary(asker: Asker) -> str:
    zone, today = await asker.today()
    named: list[PeriodName] = ["today", "yesterday", "this_week", "this_month"]
    periods = [resolve(name, today) for name in named]
    figures = await asyncio.gather(*(_figures(asker, p) for p in periods), asker.alerts(1))
    lines = [f"Figures of the user you are talking to (their own devices; days in {zone.key}):"]
    for period, body in zip(periods, figures, strict=False):
        so_far = " so far" if period.running else ""
        line = f"- {period.label}{so_far}: {kwh_text(number(body['total_kwh']))}"
        lines.append(line + _cost_part(body).replace(", costing", ","))
    lines.append(f"- alerts: {int(figures[-1]['total'])}")
    return "\n".join(lines)


def kwh_text(kwh: float) -> str:
    return f"{kwh:.2f} kWh"


def money(amount: float, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def _cost_part(figures: dict[str, Any]) -> str:
    currency, cost = figures.get("currency"), figures.get("total_cost")
    if not currency or cost is None:
        return ""
    return f", costing {money(number(cost), str(currency))}"


def _day_length_note(day: dict[str, Any]) -> str:
    hours = len(day.get("hours") or [])
    if hours == 23:
        return " That day had 23 hours: the clocks went forward."
    if hours == 25:
        return " That day had 25 hours: the clocks went back."
    return ""


def _zone_note(zone: ZoneInfo) -> str:
    return f"(Days and hours in {zone.key}.)"


def _alert_text(alert: dict[str, Any]) -> str:
    message = alert.get("message")
    if isinstance(message, str) and message:
        return message.rstrip(".") + "."
    # Older monitoring answers carry no message: one in the same words.
    name = alert.get("device_name") or "A device"
    kwh, limit = alert.get("kwh"), alert.get("limit_kwh")
    if kwh is None or limit is None:
        return f"{name} raised a {alert.get('kind', '')} alert."
    used, most = kwh_text(number(kwh)), kwh_text(number(limit))
    return f"{name} used {used} in one hour, over its {most} limit."


def _local(stamp: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(zone)


def _local_end(begins: datetime, zone: ZoneInfo) -> datetime:
    return (begins + timedelta(hours=1)).astimezone(zone)


def _repeated(begins: datetime, stamps: list[str], zone: ZoneInfo) -> bool:
    wall = begins.replace(tzinfo=None)
    same = [s for s in stamps if _local(s, zone).replace(tzinfo=None) == wall]
    return len(same) > 1


def _utc_offset(moment: datetime) -> str:
    offset = f"{moment:%z}"
    return f"UTC{offset[:3]}:{offset[3:5]}"


def _long_day(day: date, year: bool = False) -> str:
    text = f"{day:%A} {day.day} {day:%B}"
    return f"{text} {day.year}" if year else text


def _day_month(day: date) -> str:
    return f"{day.day} {day:%B}"


def _month_name(month: str) -> str:
    try:
        return f"{datetime.strptime(month, '%Y-%m'):%B %Y}"
    except ValueError:
        return month


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
