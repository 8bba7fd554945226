"""The app factory every service uses: health, metrics, errors, logs with a correlation id,
OpenAPI docs under the service's own API prefix, and the database/broker lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ems.common.credentials import ServiceCheck, ServiceCredential, service_secret, token_check
from ems.common.db import Database
from ems.common.errors import install_error_handlers
from ems.common.logs import correlation_id
from ems.common.messaging import Broker, broker_for
from ems.common.openapi import document_errors
from ems.common.revocations import Revocations
from ems.common.security import TokenVerifier, jwks_loader
from ems.common.settings import CommonSettings
from ems.contracts.identity import RevocationPage

if TYPE_CHECKING:
    from ems.common.registry import ServiceSpec

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "ems_http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
LATENCY = Histogram(
    "ems_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


@dataclass
class Runtime:
    """What a running service holds: built in the lifespan, kept on `app.state.runtime`."""

    settings: CommonSettings
    name: str = ""
    db: Database | None = None
    broker: Broker | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)
    _credential: ServiceCredential | None = None
    _auth_http: httpx.AsyncClient | None = None

    @property
    def credential(self) -> ServiceCredential:
        """This service's credential for other services' `/internal/*` routes (httpx auth)."""
        if self._credential is None:
            secret = service_secret(self.settings, self.name)
            self._credential = ServiceCredential(self.name, secret, self.settings.auth_internal_url)
        return self._credential

    @property
    def auth_http(self) -> httpx.AsyncClient:
        """A keep-alive client to auth's internal routes, with this service's credential."""
        if self._auth_http is None:
            self._auth_http = httpx.AsyncClient(
                base_url=self.settings.auth_internal_url, auth=self.credential, timeout=5.0
            )
        return self._auth_http

    # This process's id, for its per-instance queues (gone when it stops).
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # More reasons the service may not be ready (each returns the problems it sees now).
    health_checks: list[Callable[[], list[str]]] = field(default_factory=list)


Hook = Callable[[FastAPI, Runtime], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    name: str,
    settings: CommonSettings,
    api_prefix: str,
    routers: Sequence[APIRouter],
    hook: Hook | None = None,
    uses_broker: bool = True,
    token_verifier: TokenVerifier | None = None,
    service_check: ServiceCheck | None = None,
    description: str = "",
) -> FastAPI:
    """Build a service's FastAPI app; `hook` starts the service's own background work.

    The default `token_verifier` loads auth's keys and keeps a copy of its revocations;
    `service_check` (default: a service token signed by auth) guards `/internal/*` routes.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings=settings, name=name)
        app.state.runtime = runtime
        if settings.database_name is not None or settings.database_url:
            runtime.db = Database(settings.dsn(), settings.db_pool_size)
        if uses_broker:
            # Each service logs in as itself (its own user and permissions on the broker).
            runtime.broker = broker_for(settings, name)
            await runtime.broker.connect(timeout=None)
        revocations: Revocations | None = app.state.token_verifier.revocations
        if routers and revocations is not None:
            # Before serving: a token checked against no revocations would pass unchecked.
            await revocations.first_sync(timeout=3.0)
            runtime.background.append(asyncio.create_task(revocations.run(), name="revocations"))
        try:
            async with hook(app, runtime) if hook is not None else contextlib.nullcontext():
                _freeze_startup_objects()
                yield
        finally:
            for task in runtime.background:
                task.cancel()
            await asyncio.gather(*runtime.background, return_exceptions=True)
            if runtime._auth_http is not None:
                await runtime._auth_http.aclose()
            if runtime.broker is not None:
                await runtime.broker.close()
            if runtime.db is not None:
                await runtime.db.dispose()

    app = FastAPI(
        title=f"EMS {name} service",
        description=description,
        version="0.1.0",
        # The gateway serves every docs page (Swagger UI from its own files, never a CDN).
        docs_url=None,
        openapi_url=f"{api_prefix}/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
        # We export no OpenTelemetry; FastAPI's native telemetry would otherwise ask the
        # global providers (and read the environment) on every request to find that out.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service_name = name
    verifier = token_verifier or TokenVerifier(
        jwks_loader(settings.auth_internal_url),
        settings.jwt_issuer,
        settings.jwt_audience,
        Revocations(
            _revocations_from_auth(app),
            interval=settings.revocations_poll_seconds,
            max_age=settings.revocations_max_age_seconds,
        ),
    )
    app.state.token_verifier = verifier
    app.state.service_check = service_check or token_check(verifier)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=name)
    for router in routers:
        app.include_router(router)
    app.include_router(_ops_router())
    document_errors(app)
    return app


def service_app(
    spec: ServiceSpec,
    settings: CommonSettings,
    routers: Sequence[APIRouter],
    hook: Hook | None = None,
    *,
    token_verifier: TokenVerifier | None = None,
    service_check: ServiceCheck | None = None,
) -> FastAPI:
    """`create_service_app` for a service's spec: its name, API prefix and description.

    A service without an API of its own still has its (empty) OpenAPI document under
    `/api/<name>`."""
    return create_service_app(
        name=spec.name,
        settings=settings,
        api_prefix=spec.api_prefix or f"/api/{spec.name}",
        routers=routers,
        hook=hook,
        token_verifier=token_verifier,
        service_check=service_check,
        description=spec.description,
    )


def _revocations_from_auth(app: FastAPI) -> Callable[[datetime | None], Awaitable[RevocationPage]]:
    async def fetch(since: datetime | None) -> RevocationPage:
        runtime: Runtime = app.state.runtime
        params = {"since": since.isoformat()} if since is not None else {}
        response = await runtime.auth_http.get("/internal/revocations", params=params)
        response.raise_for_status()
        return RevocationPage.model_validate_json(response.content)

    return fetch


def _ops_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        """The process is up and serving."""
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        """The service can do its work: its database and the broker answer."""
        report = await readiness(request.app)
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def readiness(app: FastAPI) -> dict[str, object]:
    """Each dependency's check, and the reasons the service cannot work, if any."""
    runtime: Runtime = app.state.runtime
    checks: dict[str, bool] = {}
    problems: list[str] = []
    if runtime.db is not None:
        checks["database"] = await runtime.db.ping()
        if not checks["database"]:
            problems.append("database: not answering")
    if runtime.broker is not None:
        broker_problems = runtime.broker.problems()
        checks["broker"] = not broker_problems
        problems += broker_problems
    for check in runtime.health_checks:
        problems += check()
    report: dict[str, object] = {"status": "unavailable" if problems else "ok", "checks": checks}
    if problems:
        report["problems"] = problems
    return report


class RequestContextMiddleware:
    """Correlation id (from `X-Request-Id` or new), echoed back; request metrics."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        token = correlation_id.set(request_id[:64])
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id[:64].encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            REQUESTS.labels(self.service, scope["method"], path, str(status)).inc()
            LATENCY.labels(self.service, path).observe(time.perf_counter() - started)
            correlation_id.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _freeze_startup_objects() -> None:
    """Everything built before serving (modules, routes, schemas, settings) lives as long as
    the process: out of the cyclic collector's sight (`gc.freeze()`), a full collection
    walks only what requests made, which keeps its pauses out of the request tail."""
    gc.collect()
    gc.freeze()
