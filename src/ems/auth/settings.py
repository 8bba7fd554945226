from __future__ import annotations

from typing import ClassVar

from ems.common.settings import CommonSettings


class AuthSettings(CommonSettings):
    database_name: ClassVar[str | None] = "authdb"

    # Access tokens are short-lived (the issue caps them at 15 minutes).
    access_token_ttl_seconds: int = 600
    refresh_token_ttl_days: int = 14

    # The first admin; when unset, one is generated at first start and printed once.
    admin_username: str | None = None
    admin_password: str | None = None

    # Login throttling: failures allowed within the window, per account and per address.
    login_window_seconds: int = 300
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20

    # argon2id cost (OWASP: m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = 19_456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1

    def secrets(self) -> dict[str, str | None]:
        return {"admin_password": self.admin_password}
