"""Hypothesis strategies for what may arrive on the broker, and the fuzz tests' budget.

`make test` runs a few thousand cases; `make fuzz` (EMS_FUZZ_SCALE=20) many more. Each
hypothesis example is a batch of cases published together (one round trip per batch). A
failing batch is reported as drawn: shrinking one through a running pipeline takes many
minutes (EMS_FUZZ_SHRINK=1 turns it on)."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("EMS_FUZZ_SCALE", "1")))
SHRINK = os.environ.get("EMS_FUZZ_SHRINK") == "1"


def budget(examples: int) -> settings:
    """`examples` batches (times EMS_FUZZ_SCALE), no deadline: each runs a real pipeline."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,  # the same cases on every `make test` run
        database=None,
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# Integers at and beyond every limit a parser meets (int64, double precision, arbitrary).
LIMIT_INTS = st.sampled_from(
    [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**20, 10**400]
)
# Floats at and beyond the limits, infinities and NaN included (JSON text `Infinity`, `NaN`,
# and 1e400, which reads back as infinity).
LIMIT_FLOATS = st.sampled_from(
    [5e-324, -5e-324, 1e-7, 1e20, -1e20, 1.7976931348623157e308, -1.7976931348623157e308]
) | st.floats(allow_nan=True, allow_infinity=True)

SCALARS = (
    st.none() | st.booleans() | st.integers() | LIMIT_INTS | LIMIT_FLOATS | st.text(max_size=40)
)
# Any JSON value, nested a little.
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
# Any JSON value but an object.
NON_OBJECT = SCALARS | st.lists(JSON, max_size=4)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def garbage(draw: st.DrawFn, max_bytes: int) -> bytes:
    """Bodies that are no message at all: empty, random bytes, text, invalid UTF-8, JSON
    that is not an object, nesting deeper than any parser's stack, huge strings."""
    kind = draw(
        st.sampled_from(["empty", "bytes", "text", "utf8", "non-object", "nesting", "huge"])
    )
    if kind == "empty":
        return b""
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=500))
    if kind == "text":
        return draw(st.text(min_size=1, max_size=300)).encode()
    if kind == "utf8":
        return (
            b'{"device_id": "'
            + draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80"]))
            + b'"}'
        )
    if kind == "non-object":
        return dumps(draw(NON_OBJECT))
    if kind == "nesting":
        depth = draw(st.integers(min_value=100, max_value=20_000))
        return b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
    size = draw(st.integers(min_value=max_bytes // 2, max_value=max_bytes * 3 // 2))
    return dumps({"device_id": "x" * size})


# AMQP header values a client may send (pamqp encodes these); odd names included.
HEADER_VALUES = (
    st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(max_size=40)
    | st.booleans()
    # pamqp sends a float as single precision (it cannot send a larger one at all), and
    # RabbitMQ ends the connection of a client that sends it a NaN or an infinity.
    | st.floats(width=32, allow_nan=False, allow_infinity=False)
    | st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), max_size=3)
)
HEADERS = st.none() | st.dictionaries(
    st.text(min_size=1, max_size=20)
    | st.sampled_from(
        [
            "x-ems-deliveries",
            "x-ems-reason",
            "x-ems-original-exchange",
            "x-ems-original-routing-key",
            "x-ems-original-user-id",
            "x-ems-sent-at-us",
        ]
    ),
    HEADER_VALUES,
    max_size=4,
)
