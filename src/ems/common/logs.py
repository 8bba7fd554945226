"""Structured (JSON) logs, each line carrying the request's correlation id."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ems.common.settings import CommonSettings

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Attributes every LogRecord has; anything else passed in `extra=` is logged as a field.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# Tokens travel in URLs (`/ws?token=...`) and servers log URLs: never let them reach a log.
_SECRET_IN_URL = re.compile(r"((?:access_|refresh_)?token=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_IN_URL.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        cid = correlation_id.get()
        prefix = f"[{cid[:8]}] " if cid else ""
        line = f"{record.levelname:<7} {record.name}: {prefix}{redact(record.getMessage())}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(settings: CommonSettings, service: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service) if settings.log_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Connection chatter from the AMQP client is noise at INFO, and so is httpx's line per
    # request (the revocation poll asks auth every second).
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
