from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="auth",
    app="ems.auth.app:create_app",
    settings="ems.auth.settings:AuthSettings",
    port=8101,
    routes=(
        Route("/api/auth/me", "authenticated"),
        Route("/api/auth/password", "authenticated"),
        Route("/api/auth/", "public"),
        Route("/internal/", "internal"),
    ),
    migrations="ems.auth:migrations",
    order=10,
    commands=("ems.auth.commands:register_commands",),
)
