"""The one messaging layer: topology, broker identities, a reconnecting link, confirmed
publishing, and the consume policy every consumer runs under."""

from ems.common.messaging.broker import Broker, broker_for
from ems.common.messaging.consume import (
    REASON_HEADER,
    Delivery,
    PoisonMessage,
    Refused,
    require_routed_type,
)
from ems.common.messaging.topology import (
    EXCHANGE_CONTROL,
    EXCHANGE_DATA,
    EXCHANGE_DLX,
    EXCHANGE_READINGS,
    EXCHANGE_SYNC,
    EXCHANGE_WS,
)

__all__ = [
    "EXCHANGE_CONTROL",
    "EXCHANGE_DATA",
    "EXCHANGE_DLX",
    "EXCHANGE_READINGS",
    "EXCHANGE_SYNC",
    "EXCHANGE_WS",
    "REASON_HEADER",
    "Broker",
    "Delivery",
    "PoisonMessage",
    "Refused",
    "broker_for",
    "require_routed_type",
]
