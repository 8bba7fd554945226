from __future__ import annotations

from typing import ClassVar

from ems.common.settings import CommonSettings


class AuthSettings(CommonSettings):
    database_name: ClassVar[str | None] = "authdb"

    # Access tokens are short-lived (the issue caps them at 15 minutes).
    access_token_ttl_seconds: int = 600
    # A refresh token unused this long expires; a login (its whole family of rotated
    # refresh tokens) ends after `session_max_days` however often it is refreshed.
    refresh_token_ttl_days: int = 14
    session_max_days: int = 30

    # The first admin; when unset, one is generated at first start and printed once.
    admin_username: str | None = None
    admin_password: str | None = None

    # Login throttling (see auth/security/throttle.py). Hard limits, 429 beyond them:
    # failures of one address at one account, and of one address at any account.
    login_window_seconds: int = 300
    login_max_failures_per_account_address: int = 5
    login_max_failures_per_address: int = 50
    # Per account, whatever the address: a burst, then one password check per interval;
    # a login waits for its turn (up to `login_max_delay_seconds`) rather than being refused.
    login_account_burst: int = 5
    login_account_interval_seconds: float = 1.0
    login_max_delay_seconds: float = 10.0

    # argon2id cost (OWASP: m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = 19_456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1

    # Every service's secret is derived from this key (ems.common.credentials); services
    # exchange theirs for service tokens that live this long.
    service_master_key: str | None = None
    service_token_ttl_seconds: int = 300

    def secrets(self) -> dict[str, str | None]:
        return {
            "admin_password": self.admin_password,
            "service_master_key": self.service_master_key,
        }
