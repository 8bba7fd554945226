from __future__ import annotations

from ems.common.settings import CommonSettings


class SimulatorSettings(CommonSettings):
    # `--all`: the platform's gateway, and the admin login that may list every device.
    simulator_api_url: str = "http://127.0.0.1:8080"
    admin_username: str | None = None
    admin_password: str | None = None
