from ems.common.registry import Route, service

SPEC = service(
    "devices",
    port=8103,
    order=30,
    routes=(Route("/api/devices/"), Route("/api/tariffs/")),
    description="Devices (smart meters), their owners, limits and tariffs; a client's own devices.",
)
