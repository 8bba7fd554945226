from __future__ import annotations

from typing import Any, ClassVar, Literal

from ems.common.settings import CommonSettings


class RealtimeSettings(CommonSettings):
    """The WebSocket service keeps no database: connections and presence live in memory."""

    database_name: ClassVar[str | None] = None

    # Browsers send `Origin`; a page from elsewhere must not ride a user's token. The
    # gateway's own origin (Origin host == Host) is always allowed; these are extra ones.
    allowed_origins: list[str] = []
    # Client frames above this size are refused with close code 1009.
    max_message_bytes: int = 4096
    # A socket opened without `?token=` must send {"type": "auth", "token": ...} this soon.
    auth_timeout_seconds: float = 5.0
    # Typing events a socket may relay: a bucket of `typing_burst`, refilled per second.
    typing_burst: int = 5
    typing_per_second: float = 2.0
    # Messages queued for a client that does not read before it is dropped (close 1013).
    slow_client_backlog: int = 256
    # Presence is gossiped between instances on ems.ws: changes every `flush`, the full
    # list every `interval`; an instance unheard of for 3 intervals is forgotten.
    presence_flush_seconds: float = 0.2
    presence_interval_seconds: float = 15.0
    # Recent alerts and chat messages kept per user for `resume` after a reconnect.
    replay_seconds: float = 600.0
    replay_per_user: int = 50
    # Objects older than this are hidden from the garbage collector (0 turns it off), and a
    # full collection runs this often (see gcpolicy.py).
    gc_freeze_interval_seconds: float = 5.0
    gc_full_interval_seconds: float = 3600.0
    # Protocol-level heartbeat (WebSocket ping frames) sent by the server.
    ws_ping_interval_seconds: float = 20.0
    ws_ping_timeout_seconds: float = 20.0
    # uvicorn's WebSocket implementation; the sans-I/O one measured leanest (bench/ws).
    ws_implementation: Literal["websockets-sansio", "websockets", "wsproto"] = "websockets-sansio"

    def uvicorn_options(self) -> dict[str, Any]:
        """Server options for this service (read by `ems serve` and the benchmark)."""
        return {
            "ws": self.ws_implementation,
            # Uvicorn refuses bigger frames itself (close 1009) before they are buffered.
            "ws_max_size": self.max_message_bytes,
            "ws_ping_interval": self.ws_ping_interval_seconds,
            "ws_ping_timeout": self.ws_ping_timeout_seconds,
            # Messages are small JSON; per-socket zlib state would cost more than it saves.
            "ws_per_message_deflate": False,
            "ws_max_queue": 8,
        }
