from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="realtime",
    app="ems.realtime.app:create_app",
    settings="ems.realtime.settings:RealtimeSettings",
    port=8150,
    api_prefix="/api/realtime",
    routes=(
        Route("/ws", "authenticated", websocket=True),
        Route("/api/realtime/", "authenticated"),
    ),
    # Each instance consumes ems.ws through its own queue and serves its own sockets.
    replicas=2,
    order=60,
)
