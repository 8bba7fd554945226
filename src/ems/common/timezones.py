"""Time zones as users name them: IANA names (`Europe/Bucharest`), checked against the
zone database this process has (the system's, else the `tzdata` package)."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, Field

DEFAULT_TIME_ZONE = "UTC"
# In the database's folder but not zones one can live in: the host's own setting, the
# POSIX default rules, and tzdata's placeholder "Factory".
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES | {DEFAULT_TIME_ZONE})


def _known(name: str) -> str:
    if name not in known_time_zones():
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Bucharest")
    return name


# An IANA time zone name; anything else is refused (422 in a request).
TimeZone = Annotated[
    str, Field(min_length=1, max_length=64, examples=["Europe/Bucharest"]), AfterValidator(_known)
]
