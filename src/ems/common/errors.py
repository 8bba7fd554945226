"""One error shape for every 4xx/5xx: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from asyncpg import PostgresError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client caused or should know about; rendered in the shared shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The one error shape, as the OpenAPI documents declare it."""

    error: ErrorBody


def too_many(message: str, retry_after: int) -> ApiError:
    """429 with the seconds to wait, in `Retry-After` and in the details."""
    return ApiError(
        429,
        "too_many_attempts",
        message,
        {"retry_after": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def conflict(message: str, details: Any = None) -> ApiError:
    return ApiError(409, "conflict", message, details)


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "not allowed") -> ApiError:
    return ApiError(403, "forbidden", message)


def invalid(field: str, message: str) -> ApiError:
    """422 for one field of the request body, shaped as a validation error of that field."""
    return ApiError(
        422,
        "validation_error",
        message,
        [{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def refuse_nulls(changes: Mapping[str, Any], *fields: str) -> None:
    """422 when `changes` clear one of `fields`, which a PATCH may leave out but not null."""
    for field in fields:
        if field in changes and changes[field] is None:
            raise invalid(field, f"{field} cannot be null")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            error_body("validation_error", "the request is not valid", details), 422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return JSONResponse(
            error_body(_code_for(exc.status_code), message),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    # Handled here, not by the catch-all below: that one answers and then re-raises, and the
    # server drops the connection (a 502 at the gateway for the next request on it).
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        if _unstorable_text(exc):
            return JSONResponse(
                error_body("validation_error", "the request holds text that cannot be stored"),
                422,
            )
        raise exc

    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(PostgresError, _database)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "an unexpected error occurred"), 500)


# PostgreSQL's refusals of text it cannot store (a NUL character, a broken encoding): the
# client's input was bad, whichever field carried it.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


def _unstorable_text(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 5:
        if getattr(exc, "sqlstate", None) in _UNSTORABLE_TEXT:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__
        seen += 1
    return False
