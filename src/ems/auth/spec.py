from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="auth",
    app="ems.auth.app:create_app",
    settings="ems.auth.settings:AuthSettings",
    port=8101,
    api_prefix="/api/auth",
    routes=(
        Route("/api/auth/me", "authenticated"),
        Route("/api/auth/password", "authenticated"),
        # Each registration costs an argon2 hash: limited per address at the gateway.
        Route("/api/auth/register", "public", limit="signup"),
        Route("/api/auth/", "public"),
        Route("/internal/", "internal"),
    ),
    migrations="ems.auth:migrations",
    order=10,
    commands=("ems.auth.commands:register_commands",),
)
