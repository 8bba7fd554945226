"""What the routes of every service depend on: what the service's lifespan built (typed),
a session for reads, who is calling (with the role the service holds for them now), and
admins only. Paging is `ems.common.paging.Paging`.

Who is calling comes in two kinds. Users, the owner of roles, reads the caller's role from
its own table on every request (`caller_dependency`): a role change takes effect there on
the very next request. Every other service takes the role from the verified token
(`token_caller`): a role change, a password change or a deletion gives the user a new token
version, which the process's copy of auth's revocations refuses within about a second
(ems.common.revocations), so a token's role is the current one for as long as the token is
accepted, and no database round trip is spent on it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.errors import ApiError, forbidden, unauthorized
from ems.common.openapi import raises
from ems.common.outbox import OutboxRelay
from ems.common.security import CurrentUser, bearer_token
from ems.common.unit_of_work import UnitOfWork
from ems.common.web import Runtime

T = TypeVar("T")


def provide(app: FastAPI, *values: object) -> None:
    """Hand the routes what the lifespan built; `provided(Type)` gives it back, typed."""
    if not hasattr(app.state, "provided"):
        app.state.provided = {}
    for value in values:
        app.state.provided[type(value)] = value


def provided_by(app: FastAPI, kind: type[T]) -> T:
    """The running app's one `kind` (see `provide`), for code outside a request."""
    value = getattr(app.state, "provided", {}).get(kind)
    if not isinstance(value, kind):
        raise RuntimeError(f"this app provides no {kind.__name__}")
    return value


def provided(kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency returning the running app's one `kind` (see `provide`). Async: FastAPI
    runs a plain function dependency on its thread pool, a hop per request."""

    async def dependency(request: Request) -> T:
        return provided_by(request.app, kind)

    return dependency


UnitOfWorkDep = Annotated[UnitOfWork, Depends(provided(UnitOfWork))]


@asynccontextmanager
async def publishing(app: FastAPI, runtime: Runtime, outbox: Table) -> AsyncIterator[UnitOfWork]:
    """The lifespan of a service that publishes events: its outbox relay running, and its
    unit of work handed to the routes."""
    if runtime.db is None or runtime.broker is None:
        raise RuntimeError("a service that publishes events needs its database and the broker")
    relay = OutboxRelay(runtime.db, runtime.broker, outbox)
    uow = UnitOfWork(runtime.db, relay)
    provide(app, uow)
    relay.start()
    try:
        yield uow
    finally:
        await relay.stop()


async def read_session(uow: UnitOfWorkDep) -> AsyncIterator[AsyncSession]:
    """One session per request for the caller's lookup and the route's reads."""
    async with uow.reads() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(read_session)]


async def plain_connection(request: Request) -> AsyncIterator[Any]:
    """The driver's (asyncpg's) connection from the service's one pool, for plain SQL:
    handed back as soon as the route returns (before its answer is encoded and sent)."""
    runtime: Runtime = request.app.state.runtime
    if runtime.db is None:
        raise RuntimeError("this service has no database")
    async with runtime.db.driver() as conn:
        yield conn


# Hot reads: one statement, no ORM session (see docs/benchmarks.md, device read).
ConnectionDep = Annotated[Any, Depends(plain_connection, scope="function")]


@dataclass(frozen=True)
class Caller:
    """Who is asking, and with which role: the one this service holds for them now, or the
    token's (`token_caller`: current while the token is accepted, see the module)."""

    user_id: uuid.UUID
    role: str
    # Their bearer token, for calls made on their behalf (users asks auth with an admin's).
    token: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


# A user's role in the service's own data: None while the service has not heard of them
# yet; raises `account_gone()` for a deleted one.
RoleOf = Callable[[AsyncSession, uuid.UUID], Awaitable[str | None]]


def account_gone() -> ApiError:
    return unauthorized("account no longer exists")


def caller_dependency(role_of: RoleOf) -> Callable[..., Awaitable[Caller]]:
    """What a service's `CallerDep` depends on: the verified caller, with `role_of` them."""

    async def current_caller(
        principal: CurrentUser, request: Request, session: SessionDep
    ) -> Caller:
        role = await role_of(session, principal.user_id)
        # Unknown yet: the user was created a moment ago and the event is on its way; the
        # fresh token's role is the one auth gave the new login.
        return Caller(principal.user_id, role or principal.role, bearer_token(request) or "")

    return current_caller


async def token_caller(principal: CurrentUser, request: Request) -> Caller:
    """The verified caller with the role in their token (see the module's docstring)."""
    return Caller(principal.user_id, principal.role, bearer_token(request) or "")


def admin_dependency(
    current: Callable[..., Awaitable[Caller]],
) -> Callable[..., Awaitable[Caller]]:
    """What a service's `AdminDep` depends on: the caller of `current`, who must be an admin."""

    # A default, not Annotated: `current` is this call's, which an annotation cannot see.
    @raises(403)
    async def admin_caller(caller: Caller = Depends(current)) -> Caller:
        if not caller.is_admin:
            raise forbidden("admin role required")
        return caller

    return admin_caller
