from __future__ import annotations

from typing import Any


def register_commands(sub: Any) -> None:
    sub.add_parser("simulate", help="play smart meters (not ready yet)")
