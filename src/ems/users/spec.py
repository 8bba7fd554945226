from ems.common.registry import service

SPEC = service(
    "users",
    port=8102,
    order=20,
    description="User profiles and roles; admin user management and the caller's own profile.",
)
