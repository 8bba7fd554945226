"""Every status code a route can answer, declared in its OpenAPI with the shared error shape.

Codes come from three places: the dependencies a route uses (a token: 401, and 503 when
revocations are unknown; an admin: 403), validation (422 whenever the route takes input),
and what the route declares itself with `responses=errors(404, 409, ...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi import utils as openapi_utils
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ems.common.errors import ErrorResponse

F = TypeVar("F", bound=Callable[..., Any])

_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def raises(*codes: int) -> Callable[[F], F]:
    """Mark a dependency with the error codes it answers (read when documenting routes)."""

    def mark(fn: F) -> F:
        fn.__dict__["ems_error_codes"] = tuple(codes)
        return fn

    return mark


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the codes a route answers itself (404, 409, 429, ...)."""
    return {code: {"model": ErrorResponse, "description": _phrase(code)} for code in codes}


def document_errors(app: FastAPI) -> None:
    """Replace the app's OpenAPI builder with one that declares every error code."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorResponse"] = error_schema
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        codes = set(_dependency_codes(route.dependant))
        if _takes_input(route.dependant):
            codes.add(422)
        for method in route.methods or ():
            operation = schema["paths"][route.path_format].get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(codes | {int(c) for c in responses if str(c).isdigit()}):
                if code < 400:
                    continue
                entry = responses.setdefault(str(code), {"description": _phrase(code)})
                entry["content"] = {"application/json": {"schema": _ERROR_REF}}
                if code == 429:
                    entry["headers"] = _RETRY_AFTER
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _api_routes(app: FastAPI) -> Iterable[APIRoute]:
    """Every API route with its full path, as the OpenAPI builder sees them (FastAPI keeps an
    included router as one entry; its routes are reached through it)."""
    contexts = getattr(routing, "iter_route_contexts", None)
    effective = getattr(openapi_utils, "_get_api_route_for_openapi", None)
    if contexts is None or effective is None:  # FastAPI before included-router entries
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in contexts(app.routes):
        route = effective(context)
        if route is not None:
            yield route


def _dependency_codes(dependant: Dependant) -> Iterable[int]:
    for dependency in dependant.dependencies:
        yield from getattr(dependency.call, "ems_error_codes", ())
        yield from _dependency_codes(dependency)


def _takes_input(dependant: Dependant) -> bool:
    if dependant.query_params or dependant.path_params or dependant.body_params:
        return True
    if dependant.header_params or dependant.cookie_params:
        return True
    return any(_takes_input(d) for d in dependant.dependencies)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"
