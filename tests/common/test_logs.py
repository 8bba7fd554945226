"""Logs never carry access or refresh tokens."""

from __future__ import annotations

import io
import logging

from ems.common.logs import JsonFormatter, TextFormatter


def test_tokens_in_logged_urls_are_redacted() -> None:
    """If this fails, anyone who can read the logs can replay a user's session."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws?token=eyJ.abc.def")
        logger.warning("refresh with refresh_token=s3cr3t&x=1")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "eyJ.abc.def" not in out and "s3cr3t" not in out
    assert "/ws?token=[redacted]" in out and "x=1" in out
    record = logging.makeLogRecord({"msg": "GET /ws?access_token=abc.def", "levelname": "INFO"})
    assert "abc.def" not in TextFormatter().format(record)
