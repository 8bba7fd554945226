"""Render the gateway's nginx.conf from the services' routes.

The layout lives in the Jinja2 template `nginx.conf.j2` beside this file; this module adds
what depends on the registered services: one upstream per service listing every replica,
one location per route with forward auth (`auth_request`) in front of every protected one,
the API docs of every service, the browser's security headers, rate limits and TLS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import jinja2
from swagger_ui_bundle import swagger_ui_path

from ems.common.registry import RateLimit, Route, ServiceSpec

# The service that answers the forward-auth check, and where.
AUTH_SERVICE = "auth"
VERIFY_PATH = "/internal/verify"

# What the gateway tells a service about the caller. A client can never set these itself:
# protected locations overwrite them with what auth verified, public ones blank them.
IDENTITY_HEADERS = ("X-User-Id", "X-User-Role", "X-User-Name")

# Path namespaces that never fall through to the web app: a typo under /api/ is a JSON
# 404, not the SPA's index.html with a 200.
API_PREFIX = "/api"
INTERNAL_PREFIX = "/internal"
# Always behind auth, even while no service claims it: a client without a token cannot
# tell whether the realtime service is deployed.
WEBSOCKET_PREFIX = "/ws"

WEBSOCKET_TIMEOUT = "1h"

# Where the one docs page lives; each service's own is at `<api_prefix>/docs`.
DOCS_PATH = "/api/docs"

# The web app: its own files and its own WebSocket only ('self' covers ws: and wss: on the
# same host), no framing by anyone.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets inline styles and shows inline images; still nothing from elsewhere.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

# Per client address, for routes that name a limit; a stack may set its own.
DEFAULT_RATE_LIMITS: Mapping[str, RateLimit] = {
    # Registrations: each costs an argon2 hash and a new row.
    "signup": RateLimit(per_minute=10, burst=20),
}

# Errors nginx itself produces, answered in the platform's one error shape.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "the request is malformed"),
    401: ("unauthorized", "a valid access token is required"),
    403: ("forbidden", "this token does not allow the request"),
    404: ("not_found", "no such resource"),
    405: ("method_not_allowed", "this method is not allowed here"),
    413: ("payload_too_large", "the request body is too large"),
    429: ("too_many_requests", "too many requests from this address; try again later"),
    500: ("internal_error", "the gateway failed to handle the request"),
    502: ("bad_gateway", "the service behind this path is not reachable"),
    503: ("service_unavailable", "the service behind this path is not available"),
    504: ("gateway_timeout", "the service behind this path did not answer in time"),
}
# auth_request turns any unexpected answer from auth (it is down, say) into a 500; in
# protected locations that means the check could not be made, which the client should see.
_AUTH_UNAVAILABLE = ("auth_unavailable", "the request could not be authenticated right now")


@dataclass(frozen=True)
class Upstream:
    """One service as the gateway sees it: where its replicas listen, what it serves."""

    name: str
    ports: tuple[int, ...]
    routes: tuple[Route, ...]
    # Where its API lives (`<prefix>/openapi.json`, docs at `<prefix>/docs`); None: no API.
    api_prefix: str | None = None

    @property
    def upstream_name(self) -> str:
        return "ems_" + re.sub(r"[^A-Za-z0-9_]", "_", self.name)


@dataclass(frozen=True)
class Tls:
    """HTTPS on `port`, with HSTS; plain HTTP from other machines is redirected to it."""

    port: int
    cert: Path
    key: Path


@dataclass(frozen=True)
class GatewayConfig:
    listen_host: str
    listen_port: int
    # Where nginx keeps its pid file, temp files and the verify cache.
    run_dir: Path
    log_dir: Path
    # The web app's build output, or the placeholder page.
    static_root: Path
    services: tuple[Upstream, ...]
    # nginx's workers run as nobody unless told otherwise; under root they must be able to
    # read the temp and static folders, which may be private to root.
    run_as_root: bool = False
    upstream_host: str = "127.0.0.1"
    # Docker's DNS server (127.0.0.11) under Swarm: each service is then one name, its own
    # (`<service>:<port>`), looked up while serving (cached a few seconds), so a replaced
    # task or a rescaled service needs no gateway restart. None: fixed upstream blocks.
    resolver: str | None = None
    # `gateway:<secret>`, sent with every forward-auth check (ems.common.credentials); the
    # rendered file then holds a secret and must be private.
    service_credential: str | None = None
    tls: Tls | None = None
    rate_limits: Mapping[str, RateLimit] = field(default_factory=lambda: DEFAULT_RATE_LIMITS)


def upstreams_from_specs(
    specs: Iterable[ServiceSpec], port_of: Callable[[ServiceSpec, int], int]
) -> tuple[Upstream, ...]:
    """Every service with routes, its replicas' ports given by `port_of(spec, instance)`."""
    return tuple(
        Upstream(
            spec.name,
            tuple(port_of(spec, i) for i in range(spec.replicas)),
            spec.routes,
            spec.api_prefix,
        )
        for spec in specs
        if spec.routes
    )


def placeholder_root() -> Path:
    """The folder with the page served while the web app is not built."""
    return Path(str(files("ems.gateway").joinpath("placeholder")))


def docs_root() -> Path:
    """The folder with the docs page and its script."""
    return Path(str(files("ems.gateway").joinpath("docs")))


def render(config: GatewayConfig) -> str:
    """The complete nginx.conf for this set of services."""
    auth = _auth_upstream(config.services)
    if config.service_credential is not None and '"' in config.service_credential:
        raise ValueError("the gateway's service credential cannot hold a double quote")
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ems.gateway", "."),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - nginx syntax, not HTML
    )
    template = environment.get_template("nginx.conf.j2")
    tls = config.tls
    target = _dynamic_target if config.resolver else _fixed_target
    return template.render(
        run_as_root=config.run_as_root,
        run_dir=config.run_dir,
        log_dir=config.log_dir,
        listen=f"{config.listen_host}:{config.listen_port}",
        tls=tls and {"listen": f"{config.listen_host}:{tls.port}", **vars(tls)},
        static_root=config.static_root,
        resolver=config.resolver,
        upstreams=[
            {
                "name": s.upstream_name,
                "servers": [f"{config.upstream_host}:{port}" for port in s.ports],
                "address": _one_address(s) if config.resolver else None,
            }
            for s in config.services
        ],
        rate_zones=_rate_zones(config),
        headers=lambda csp, spaces=8: _indent(_security_headers(csp, tls is not None), spaces),
        app_csp=APP_CSP,
        docs_csp=DOCS_CSP,
        error_pages=_error_pages(protected=False),
        auth_upstream=target(auth),
        verify_path=VERIFY_PATH,
        service_credential=config.service_credential,
        docs=_docs(config.services),
        locations=_locations(config.services, config.rate_limits, target),
        error_locations=_error_locations(tls is not None),
    )


def _security_headers(csp: str, tls: bool) -> list[str]:
    lines = [
        "add_header X-Request-Id $ems_request_id always;",
        "add_header X-Content-Type-Options nosniff always;",
        "add_header X-Frame-Options DENY always;",
        "add_header Referrer-Policy no-referrer always;",
        f'add_header Content-Security-Policy "{csp}" always;',
    ]
    if tls:
        lines.append("add_header Strict-Transport-Security $ems_hsts always;")
    return lines


def _rate_zones(config: GatewayConfig) -> list[dict[str, str]]:
    used = {r.limit for s in config.services for r in s.routes if r.limit is not None}
    zones = []
    for name in sorted(used):
        if name not in config.rate_limits:
            raise ValueError(f"a route names the rate limit {name!r}, which is not configured")
        limit = config.rate_limits[name]
        zones.append(
            {
                "name": _zone(name),
                "rate": f"{limit.per_minute}r/m",
                "comment": f"{name}: {limit.per_minute} a minute per address, bursts of "
                f"{limit.burst}",
            }
        )
    return zones


def _zone(limit: str) -> str:
    return "ems_limit_" + re.sub(r"[^A-Za-z0-9_]", "_", limit)


def _docs(services: Sequence[Upstream]) -> dict[str, object]:
    documented = [s for s in services if s.api_prefix]
    listing = [{"name": s.name, "url": f"{s.api_prefix}/openapi.json"} for s in documented]
    services_json = json.dumps(listing, separators=(",", ":"))
    assert "'" not in services_json, "the list is written inside single quotes"
    return {
        "root": docs_root(),
        "swagger_root": Path(str(swagger_ui_path)),
        "pages": [DOCS_PATH, *(f"{s.api_prefix}/docs" for s in documented)],
        "services_json": services_json,
    }


def _auth_upstream(services: Sequence[Upstream]) -> Upstream:
    # Even with no protected route of its own, /ws stays behind auth.
    auth = next((s for s in services if s.name == AUTH_SERVICE), None)
    if auth is None:
        raise ValueError(f"the gateway needs the {AUTH_SERVICE!r} service to verify tokens")
    return auth


def _fixed_target(service: Upstream) -> str:
    return service.upstream_name


def _dynamic_target(service: Upstream) -> str:
    # A variable in proxy_pass makes nginx resolve the name per request, not once at start.
    return "$" + service.upstream_name


def _one_address(service: Upstream) -> str:
    if len(service.ports) != 1:
        raise ValueError(f"{service.name}: one port per service when names are resolved")
    return f"{service.name}:{service.ports[0]}"


def _locations(
    services: Sequence[Upstream],
    limits: Mapping[str, RateLimit],
    target: Callable[[Upstream], str],
) -> list[str]:
    blocks: dict[str, str] = {}

    # Each service's OpenAPI document is public (the docs page reads it).
    for service in services:
        if service.api_prefix:
            route = Route(f"{service.api_prefix}/openapi.json", "public")
            body = _proxy(route, target(service))
            blocks[f"= {route.prefix}"] = _block(f"= {route.prefix}", body)

    # In the services' order, for the reader: nginx picks the longest matching prefix.
    for route, service in [(r, s) for s in services for r in s.routes]:
        body = _not_found() if route.access == "internal" else _proxy(route, target(service))
        if route.limit is not None and route.access != "internal":
            burst = limits[route.limit].burst
            body = [f"limit_req zone={_zone(route.limit)} burst={burst} nodelay;", *body]
        kind = route.access + (", websocket" if route.websocket else "")
        comment = f"        # {service.name}: {route.prefix} ({kind})\n"
        for matcher in _matchers(route.prefix):
            if matcher in blocks:
                raise ValueError(f"two routes claim `location {matcher}`, one of {service.name}")
            blocks[matcher] = comment + _block(matcher, body)
            comment = ""

    # What no service claims in the reserved namespaces: a 404, never the web app.
    unclaimed = {
        API_PREFIX: _not_found(),
        INTERNAL_PREFIX: _not_found(),
        WEBSOCKET_PREFIX: _verified_not_found(),
    }
    for prefix, body in unclaimed.items():
        for matcher in _matchers(prefix):
            blocks.setdefault(matcher, _block(matcher, body))
    return list(blocks.values())


def _matchers(prefix: str) -> list[str]:
    """nginx locations for a route prefix.

    `/api/auth/` covers everything below it. A prefix without a trailing slash names one
    path and what lies below it, but not its siblings: `/api/auth/me` must not also claim
    `/api/auth/meow`. `^~` keeps regex locations from ever overriding a route.
    """
    if not prefix.startswith("/") or prefix == "/":
        raise ValueError(f"route prefix {prefix!r} must start with '/' and name a path")
    exact = prefix.rstrip("/")
    return [f"= {exact}", f"^~ {exact}/"]


def _proxy(route: Route, target: str) -> list[str]:
    protected = route.access == "authenticated" or route.websocket
    lines = [
        f"proxy_pass http://{target};",
        "proxy_set_header Host $http_host;",
        # The gateway is the edge: what a client claims about its own address is dropped.
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-Id $ems_request_id;",
    ]
    if route.websocket:
        lines += [
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $ems_connection;",
            f"proxy_read_timeout {WEBSOCKET_TIMEOUT};",
            f"proxy_send_timeout {WEBSOCKET_TIMEOUT};",
        ]
    else:
        lines.append('proxy_set_header Connection "";')
    if protected:
        lines += ["auth_request /_ems/verify;"]
        for header in IDENTITY_HEADERS:
            var = _identity_variable(header)
            lines.append(f"auth_request_set {var} $upstream_http_{_snake(header)};")
            lines.append(f"proxy_set_header {header} {var};")
        lines += _error_pages(protected=True)
    else:
        # Setting a header to "" removes it: a spoofed identity never reaches a service.
        lines += [f'proxy_set_header {header} "";' for header in IDENTITY_HEADERS]
    return lines


def _not_found() -> list[str]:
    return ["return 404;"]


def _verified_not_found() -> list[str]:
    # `return` would answer before auth_request runs; try_files comes after the access
    # phase, so the token is checked first and only then the 404 given.
    return [
        "auth_request /_ems/verify;",
        *_error_pages(protected=True),
        "try_files /.ems-no-such-file =404;",
    ]


def _error_pages(*, protected: bool) -> list[str]:
    # error_page directives in a location replace the server's set, so a protected
    # location repeats all of them with its own meaning for 500.
    lines = []
    for status in _ERRORS:
        target = "@ems_auth_unavailable" if protected and status == 500 else f"@ems_{status}"
        # `=`: the status is the one the named location returns (503 for auth_unavailable).
        lines.append(f"error_page {status} = {target};")
    return lines


def _error_locations(tls: bool) -> list[str]:
    # A 401 keeps the WWW-Authenticate header auth_request copies from auth's answer.
    headers = _security_headers(APP_CSP, tls)
    blocks = [
        _error_block(f"@ems_{status}", status, code, message, headers)
        for status, (code, message) in _ERRORS.items()
    ]
    code, message = _AUTH_UNAVAILABLE
    blocks.append(_error_block("@ems_auth_unavailable", 503, code, message))
    return blocks


def _error_block(
    name: str, status: int, code: str, message: str, headers: Sequence[str] = ()
) -> str:
    body = json.dumps({"error": {"code": code, "message": message, "details": None}})
    assert "'" not in body, "the body is written inside single quotes"
    lines = ["default_type application/json;"]
    if status == 429:
        # nginx's own rate limits: a minute is the longest any of them makes one wait. A
        # location's add_header replaces the server's, so they are repeated.
        lines += ["add_header Retry-After 60 always;", *headers]
    return _block(name, [*lines, f"return {status} '{body}';"])


def _block(matcher: str, body: Sequence[str]) -> str:
    return "\n".join([f"        location {matcher} {{", _indent(body, 12), "        }"])


def _indent(lines: Iterable[str], spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in lines)


def _snake(header: str) -> str:
    return header.lower().replace("-", "_")


def _identity_variable(header: str) -> str:
    return "$ems_" + _snake(header).removeprefix("x_")
