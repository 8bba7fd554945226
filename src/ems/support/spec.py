from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="support",
    app="ems.support.app:create_app",
    settings="ems.support.settings:SupportSettings",
    port=8160,
    api_prefix="/api/support",
    routes=(Route("/api/support/", "authenticated"),),
    migrations="ems.support:migrations",
    order=50,
)
