from ems.common.registry import Route, service

SPEC = service(
    "auth",
    port=8101,
    order=10,
    routes=(
        Route("/api/auth/me"),
        Route("/api/auth/password"),
        # Each registration costs an argon2 hash: limited per address at the gateway.
        Route("/api/auth/register", "public", limit="signup"),
        Route("/api/auth/", "public"),
        Route("/internal/", "internal"),
    ),
    commands=("ems.auth.commands:register_commands",),
    description="Registration, login, token refresh and revocation, public keys.",
)
