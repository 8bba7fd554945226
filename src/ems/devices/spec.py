from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="devices",
    app="ems.devices.app:create_app",
    settings="ems.devices.settings:DevicesSettings",
    port=8103,
    routes=(
        Route("/api/devices/docs", "public"),
        Route("/api/devices/openapi.json", "public"),
        Route("/api/devices/", "authenticated"),
        Route("/api/tariffs/", "authenticated"),
    ),
    migrations="ems.devices:migrations",
    order=30,
)
