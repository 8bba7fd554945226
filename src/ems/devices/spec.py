from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="devices",
    app="ems.devices.app:create_app",
    settings="ems.devices.settings:DevicesSettings",
    port=8103,
    api_prefix="/api/devices",
    routes=(
        Route("/api/devices/", "authenticated"),
        Route("/api/tariffs/", "authenticated"),
    ),
    migrations="ems.devices:migrations",
    order=30,
)
