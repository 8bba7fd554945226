from tests.realtime.fixtures import (
    admin_login,
    auth_server,
    broker,
    realtime,
    realtime_settings,
)

__all__ = ["admin_login", "auth_server", "broker", "realtime", "realtime_settings"]
