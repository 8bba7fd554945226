"""How a service joins the platform.

Each service package exposes a `ServiceSpec` under the `ems.services` entry point group
(see pyproject.toml). The local runner, the gateway configuration and `ems migrate` read the
specs; adding a service never means editing them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ems.common.settings import CommonSettings

Access = Literal["public", "authenticated", "internal"]


@dataclass(frozen=True)
class RateLimit:
    """Requests per client address the gateway lets through (nginx `limit_req`)."""

    per_minute: int
    burst: int


@dataclass(frozen=True)
class Route:
    """A path prefix the gateway sends to this service.

    `public`: no token needed (login, register); `authenticated`: the gateway asks auth to
    verify the token first; `internal`: never routed from outside. `limit` names a rate
    limit per client address the gateway applies (its rate is the stack's setting).
    """

    prefix: str
    access: Access = "authenticated"
    websocket: bool = False
    limit: str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    # "module:function" building the FastAPI app from the settings object.
    app: str
    # "module:Class" of the service's settings (a CommonSettings subclass).
    settings: str
    # First port; replica i listens on port + i.
    port: int
    routes: tuple[Route, ...] = ()
    # Where the service's REST API lives: its OpenAPI document is `<api_prefix>/openapi.json`
    # and the gateway serves its docs page at `<api_prefix>/docs`.
    api_prefix: str | None = None
    # Alembic script location as "package:folder", None when the service owns no database.
    migrations: str | None = None
    replicas: int = 1
    # Start order for the local runner: lower starts first (auth before the rest).
    order: int = 50
    # Extra `ems` CLI commands this service contributes, "module:function(subparsers)".
    commands: tuple[str, ...] = field(default=())
    # What the service does, in one sentence (its OpenAPI description).
    description: str = ""

    def load_settings_class(self) -> type[CommonSettings]:
        cls: type[CommonSettings] = _load(self.settings)
        return cls

    def build_app(self, settings: CommonSettings) -> FastAPI:
        factory: Callable[[Any], FastAPI] = _load(self.app)
        return factory(settings)


# `service(..., api_prefix=...)` left out: the service's API is at `/api/<name>`.
_API_AT_NAME = "/api/{name}"


def service(
    name: str,
    *,
    port: int,
    description: str,
    database: bool = True,
    api_prefix: str | None = _API_AT_NAME,
    routes: Sequence[Route] | None = None,
    replicas: int = 1,
    order: int = 50,
    commands: Sequence[str] = (),
) -> ServiceSpec:
    """The spec of a service laid out in the one shape, so that it states only what differs.

    `ems.<name>.app:create_app` builds it from `ems.<name>.settings:<Name>Settings`; with a
    `database` its Alembic history is `ems.<name>/migrations/`; its REST API is under
    `api_prefix` (`/api/<name>`; None: no HTTP API beyond health and metrics) and the
    gateway sends it `routes` (default: everything under `api_prefix`, authenticated).
    """
    prefix = _API_AT_NAME.format(name=name) if api_prefix == _API_AT_NAME else api_prefix
    if routes is None:
        routes = (Route(f"{prefix}/"),) if prefix is not None else ()
    return ServiceSpec(
        name=name,
        app=f"ems.{name}.app:create_app",
        settings=f"ems.{name}.settings:{name.capitalize()}Settings",
        port=port,
        routes=tuple(routes),
        api_prefix=prefix,
        migrations=f"ems.{name}:migrations" if database else None,
        replicas=replicas,
        order=order,
        commands=tuple(commands),
        description=description,
    )


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def service_specs() -> list[ServiceSpec]:
    """Every registered service, in start order."""
    specs = [ep.load() for ep in entry_points(group="ems.services")]
    return sorted(specs, key=lambda s: (s.order, s.name))


def service_spec(name: str) -> ServiceSpec:
    for spec in service_specs():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown service {name!r}")
