from __future__ import annotations

from typing import ClassVar

from ems.common.settings import CommonSettings


class DevicesSettings(CommonSettings):
    database_name: ClassVar[str | None] = "devicedb"

    # The users service, whose snapshot of profiles the copy of users catches up from.
    users_internal_url: str = "http://127.0.0.1:8102"
    users_timeout_seconds: float = 5.0
    snapshot_page_size: int = 500
