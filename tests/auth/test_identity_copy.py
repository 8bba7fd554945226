"""auth's side of the identity flow: the role and email it copies from users (by revision),
a deleted user's login ended, and the snapshot of logins users catches up from."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from ems.auth.consumers import user_events_consumer
from ems.auth.models import Credential, RefreshToken
from ems.auth.service import AuthContext
from ems.common.db import Database
from ems.common.deps import provided_by
from ems.common.messaging import EXCHANGE_SYNC
from ems.contracts.events import Envelope, UserDeleted, UserUpdated
from tests.auth.conftest import AuthService
from tests.platform.broker import probe
from tests.platform.polling import eventually


def unique(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:6]}"


async def apply(auth: AuthService, body: Any) -> bool:
    runtime = auth.app.state.runtime
    consumer = user_events_consumer(
        runtime.db, provided_by(auth.app, AuthContext).relay, auth.settings
    )
    applied: bool = await consumer.handle(Envelope.wrap(body))
    return applied


async def credential(auth: AuthService, user_id: str) -> Credential | None:
    db: Database = auth.app.state.runtime.db
    async with db.sessions() as session:
        return await session.get(Credential, uuid.UUID(user_id))


async def test_role_and_email_follow_the_newest_profile_revision_only(auth: AuthService) -> None:
    """If this fails, a late or repeated `user.updated` gives a user back an old role (a
    demoted admin regains admin), or a role change never reaches the tokens."""
    user = await auth.register(unique("ann"))
    name = user["username"]
    newer = UserUpdated(id=user["id"], username=name, role="ADMIN", email="a@x.io", revision=3)
    older = UserUpdated(id=user["id"], username=name, role="CLIENT", revision=2)
    assert await apply(auth, newer)
    assert await apply(auth, older)  # handled (a new event id) but changes nothing
    copy = await credential(auth, user["id"])
    assert copy is not None and (copy.role, copy.email, copy.profile_revision) == (
        "ADMIN",
        "a@x.io",
        3,
    )
    assert (await auth.login(name))["user"]["role"] == "ADMIN"


async def test_an_email_moved_to_another_user_leaves_the_previous_holder(
    auth: AuthService,
) -> None:
    """If this fails, auth's copy refuses (and dead-letters) an email change users has
    already accepted, because the previous holder's own update has not arrived yet."""
    first = await auth.register(unique("first"))
    second = await auth.register(unique("second"))
    email = f"{unique('moved')}@x.io"
    await apply(
        auth,
        UserUpdated(
            id=first["id"], username=first["username"], role="CLIENT", email=email, revision=2
        ),
    )
    await apply(
        auth,
        UserUpdated(
            id=second["id"], username=second["username"], role="CLIENT", email=email, revision=2
        ),
    )
    assert (await credential(auth, first["id"])).email is None  # type: ignore[union-attr]
    assert (await credential(auth, second["id"])).email == email  # type: ignore[union-attr]


async def test_a_deleted_user_loses_login_and_refresh_tokens_and_it_is_announced(
    auth: AuthService, amqp_vhost: str
) -> None:
    """If this fails, a deleted user can still log in or refresh (the seeds' bug: a deleted
    user's credentials left behind), or nobody learns the login is gone."""
    user = await auth.register(unique("gone"))
    tokens = await auth.login(user["username"])
    async with probe(amqp_vhost, (EXCHANGE_SYNC, "auth.credential_removed")) as queue:
        assert await apply(auth, UserDeleted(id=user["id"], revision=2))

        async def announced() -> bool:
            message = await queue.get(no_ack=True, fail=False)
            return (
                message is not None
                and Envelope.model_validate_json(message.body).data["id"] == user["id"]
            )

        await eventually(announced, timeout=5)
    assert await credential(auth, user["id"]) is None
    db: Database = auth.app.state.runtime.db
    async with db.sessions() as session:
        left = await session.scalar(
            select(func.count()).where(RefreshToken.user_id == uuid.UUID(user["id"]))
        )
        assert left == 0
    login = await auth.client.post(
        "/api/auth/login", json={"username": user["username"], "password": "correct-horse-1"}
    )
    refresh = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert (login.status_code, refresh.status_code) == (401, 401)
    # A later update of the deleted user recreates nothing.
    late = UserUpdated(id=user["id"], username=user["username"], role="ADMIN", revision=1)
    await apply(auth, late)
    assert await credential(auth, user["id"]) is None


async def test_the_snapshot_of_logins_pages_through_every_one(auth: AuthService) -> None:
    """If this fails, users cannot catch up with logins made before its queue existed (the
    first admin), or catches up with only the first page."""
    made = {(await auth.register(unique("page")))["id"] for _ in range(3)}
    seen: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"after": after} if after else {})}
        page = (
            await auth.client.get(
                "/internal/credentials", params=params, headers=await auth.as_service("users")
            )
        ).json()
        seen += page["items"]
        after = page["next_after"]
        if after is None:
            break
    ids = [item["id"] for item in seen]
    assert made <= set(ids) and len(ids) == len(set(ids))
    assert all("password" not in str(item) for item in seen)
