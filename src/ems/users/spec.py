from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="users",
    app="ems.users.app:create_app",
    settings="ems.users.settings:UsersSettings",
    port=8102,
    routes=(
        Route("/api/users/docs", "public"),
        Route("/api/users/openapi.json", "public"),
        Route("/api/users/", "authenticated"),
    ),
    migrations="ems.users:migrations",
    order=20,
)
