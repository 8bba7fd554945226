from __future__ import annotations

from typing import ClassVar

from ems.common.settings import CommonSettings


class UsersSettings(CommonSettings):
    database_name: ClassVar[str | None] = "userdb"

    # A call to auth (an admin creating a login, the start-up snapshot) fails after this.
    auth_timeout_seconds: float = 5.0
    # Page size of the start-up snapshot of logins.
    snapshot_page_size: int = 500
