from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="users",
    app="ems.users.app:create_app",
    settings="ems.users.settings:UsersSettings",
    port=8102,
    api_prefix="/api/users",
    routes=(Route("/api/users/", "authenticated"),),
    migrations="ems.users:migrations",
    order=20,
)
