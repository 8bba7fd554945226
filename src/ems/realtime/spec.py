from ems.common.registry import Route, service

# No database: what an instance knows (sockets, presence, recent messages to replay) lives
# in its memory and on the broker. Each instance consumes ems.ws through its own queue and
# serves its own sockets.
SPEC = service(
    "realtime",
    port=8150,
    replicas=2,
    order=60,
    database=False,
    routes=(Route("/ws", websocket=True), Route("/api/realtime/")),
    description="WebSocket delivery of alerts, chat, typing and presence.",
)
