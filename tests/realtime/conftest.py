from tests.realtime.fixtures import (
    admin_login,
    auth_server,
    realtime,
    realtime_settings,
    senders,
)

__all__ = ["admin_login", "auth_server", "realtime", "realtime_settings", "senders"]
