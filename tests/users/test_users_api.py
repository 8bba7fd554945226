"""The users API through the gateway: paging and search, the caller's own profile, bad
input refused with nothing changed, and the events every change publishes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ems.common.messaging import EXCHANGE_SYNC
from ems.contracts.events import Envelope
from tests.platform.broker import probe
from tests.platform.identity import PASSWORD, Platform, bearer, unique
from tests.platform.polling import eventually


async def users_total(platform: Platform) -> int:
    response = await platform.gateway.get("/api/users", headers=bearer(platform.admin_token))
    total: int = response.json()["total"]
    return total


async def test_admins_page_and_search_users_by_username_name_and_email(platform: Platform) -> None:
    """If this fails, the admin users table cannot find a user or shows the wrong page."""
    tag = uuid.uuid4().hex[:8]
    await platform.create_user(username=f"{tag}a")
    await platform.create_user(full_name=f"Ann {tag.upper()}")
    await platform.create_user(email=f"ann.{tag}@example.com")
    headers = bearer(platform.admin_token)

    first = (await platform.gateway.get(f"/api/users?q={tag}&size=2", headers=headers)).json()
    second = (
        await platform.gateway.get(f"/api/users?q={tag}&size=2&page=2", headers=headers)
    ).json()
    assert first["total"] == 3 and first["page"] == 1 and first["size"] == 2
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second["items"]}
    # LIKE wildcards in `q` are literal characters, not "match anything".
    assert (await platform.gateway.get("/api/users?q=%25", headers=headers)).json()["total"] == 0
    for bad in ("page=0", "size=0", "size=101", "page=x"):
        response = await platform.gateway.get(f"/api/users?{bad}", headers=headers)
        assert response.status_code == 422, bad


async def test_duplicate_usernames_and_emails_are_refused_with_409(platform: Platform) -> None:
    """If this fails, two accounts share a name or an email (and password resets, search,
    and the admin screens mix them up)."""
    email = f"{unique('dup')}@example.com"
    first = await platform.create_user(email=email)
    headers = bearer(platform.admin_token)
    before = await users_total(platform)

    attempts = [
        ("/api/users", {"username": first["username"], "password": PASSWORD, "role": "CLIENT"}),
        (
            "/api/users",
            {
                "username": unique("u"),
                "password": PASSWORD,
                "role": "CLIENT",
                "email": email.upper(),
            },
        ),
        ("/api/auth/register", {"username": first["username"].upper(), "password": PASSWORD}),
        ("/api/auth/register", {"username": unique("u"), "password": PASSWORD, "email": email}),
    ]
    for path, body in attempts:
        response = await platform.gateway.post(path, json=body, headers=headers)
        assert response.status_code == 409, (path, body, response.text)
        assert response.json()["error"]["code"] == "conflict"

    _, token = await platform.client()
    taken = await platform.gateway.patch(
        "/api/users/me", json={"email": email}, headers=bearer(token)
    )
    assert taken.status_code == 409
    assert await users_total(platform) == before + 1  # only `other`


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ok_name", "password": PASSWORD, "role": "ROOT"},
        {"username": "ok_name", "password": PASSWORD},
        {"username": "ok_name", "password": PASSWORD, "role": "CLIENT", "id": str(uuid.uuid4())},
        {"username": "ok_name", "password": PASSWORD, "role": "CLIENT", "email": "nope"},
        {"username": "ok_name", "password": "short", "role": "CLIENT"},
        {"username": "a b", "password": PASSWORD, "role": "CLIENT"},
        {"username": "ok_name", "password": PASSWORD, "role": "CLIENT", "revision": 7},
    ],
)
async def test_bad_user_creations_are_refused_with_422_and_nothing_created(
    platform: Platform, body: dict[str, Any]
) -> None:
    """If this fails, an admin's typo creates a different user than asked for, or a user
    with no valid role."""
    before = await users_total(platform)
    response = await platform.gateway.post(
        "/api/users", json=body, headers=bearer(platform.admin_token)
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert await users_total(platform) == before


async def test_users_edit_their_own_name_and_email_but_never_their_role_or_id(
    platform: Platform,
) -> None:
    """If this fails, a client can make themselves admin, or cannot keep their profile."""
    user, token = await platform.client()
    mine = bearer(token)
    email = f"{unique('me')}@example.com"
    patched = await platform.gateway.patch("/api/users/me", json={"full_name": "Me"}, headers=mine)
    assert patched.status_code == 200 and patched.json()["full_name"] == "Me"
    put = await platform.gateway.put(
        f"/api/users/{user['id']}", json={"email": email}, headers=mine
    )
    # PUT replaces: the name left out is cleared.
    assert put.json()["email"] == email and put.json()["full_name"] is None

    for path in ("/api/users/me", f"/api/users/{user['id']}"):
        for body in (
            {"role": "ADMIN"},
            {"role": "CLIENT"},
            {"id": str(uuid.uuid4())},
            {"username": "renamed"},
        ):
            for method in ("PUT", "PATCH"):
                response = await platform.gateway.request(method, path, json=body, headers=mine)
                assert response.status_code == 422, (method, path, body, response.text)
    me = (await platform.gateway.get("/api/users/me", headers=mine)).json()
    assert me["role"] == "CLIENT" and me["email"] == email and me["username"] == user["username"]
    assert set(me) >= {"id", "username", "role", "full_name", "email"}


async def test_admins_change_roles_but_not_their_own_and_cannot_delete_themselves(
    platform: Platform,
) -> None:
    """If this fails, the last admin can lock everyone out by demoting or deleting
    themselves, or an admin cannot promote a client."""
    admin_headers = bearer(platform.admin_token)
    me = (await platform.gateway.get("/api/users/me", headers=admin_headers)).json()
    demote = await platform.gateway.patch(
        f"/api/users/{me['id']}", json={"role": "CLIENT"}, headers=admin_headers
    )
    assert demote.status_code == 403
    delete = await platform.gateway.delete(f"/api/users/{me['id']}", headers=admin_headers)
    assert delete.status_code == 403
    same_role = await platform.gateway.patch(
        f"/api/users/{me['id']}", json={"role": "ADMIN"}, headers=admin_headers
    )
    assert same_role.status_code == 200

    user = await platform.create_user()
    for body in ({"role": None}, {"role": "ROOT"}):
        response = await platform.gateway.patch(
            f"/api/users/{user['id']}", json=body, headers=admin_headers
        )
        assert response.status_code == 422, body
    promoted = await platform.gateway.put(
        f"/api/users/{user['id']}",
        json={"role": "ADMIN", "full_name": "Boss"},
        headers=admin_headers,
    )
    assert promoted.json()["role"] == "ADMIN" and promoted.json()["full_name"] == "Boss"


async def test_unknown_and_malformed_user_ids(platform: Platform) -> None:
    """If this fails, a bad id crashes the service (500) or is mistaken for another."""
    headers = bearer(platform.admin_token)
    missing = uuid.uuid4()
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body: dict[str, Any] | None = {} if method in ("PUT", "PATCH") else None
        gone = await platform.gateway.request(
            method, f"/api/users/{missing}", json=body, headers=headers
        )
        assert gone.status_code == 404, method
        bad = await platform.gateway.request(
            method, "/api/users/not-a-uuid", json=body, headers=headers
        )
        assert bad.status_code == 422, method


async def test_a_password_change_needs_the_old_password_and_ends_other_sessions(
    platform: Platform,
) -> None:
    """If this fails, someone holding a stolen access token can change the password, or
    sessions logged in with the old password live on."""
    user, _ = await platform.client()
    first = await platform.login(user["username"])
    headers = bearer(first["access_token"])
    wrong = await platform.gateway.post(
        "/api/auth/password",
        json={"old_password": "not-it-at-all", "new_password": "brand-new-pass-2"},
        headers=headers,
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_password"
    anonymous = await platform.gateway.post(
        "/api/auth/password", json={"old_password": PASSWORD, "new_password": "brand-new-pass-2"}
    )
    assert anonymous.status_code == 401
    changed = await platform.gateway.post(
        "/api/auth/password",
        json={"old_password": PASSWORD, "new_password": "brand-new-pass-2"},
        headers=headers,
    )
    assert changed.status_code == 200 and changed.json()["refresh_token"]

    old_refresh = await platform.gateway.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert old_refresh.status_code == 401
    old_login = await platform.gateway.post(
        "/api/auth/login", json={"username": user["username"], "password": PASSWORD}
    )
    assert old_login.status_code == 401
    await platform.login(user["username"], "brand-new-pass-2")


async def test_every_user_change_publishes_its_whole_state_with_id_type_time_and_version(
    platform: Platform,
) -> None:
    """If this fails, services that keep a copy of users (devices, monitoring, support,
    realtime) cannot tell events apart, order them, or learn of a change at all; or a
    password leaves auth."""
    async with probe(platform.amqp_url, (EXCHANGE_SYNC, "user.*")) as queue:
        user = await platform.create_user(email=f"{unique('ev')}@example.com")
        headers = bearer(platform.admin_token)
        await platform.gateway.patch(
            f"/api/users/{user['id']}", json={"full_name": "New"}, headers=headers
        )
        # A change to what it already is publishes nothing.
        await platform.gateway.patch(
            f"/api/users/{user['id']}", json={"full_name": "New"}, headers=headers
        )
        await platform.gateway.delete(f"/api/users/{user['id']}", headers=headers)
        events: list[Envelope] = []

        async def three() -> bool:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                envelope = Envelope.model_validate_json(message.body)
                assert message.message_id == str(envelope.event_id)
                assert "password" not in message.body.decode()
                if envelope.data["id"] == user["id"]:
                    events.append(envelope)
            return len(events) >= 3

        await eventually(three, timeout=5)
    assert [e.type for e in events] == ["user.created", "user.updated", "user.deleted"]
    assert [e.data["revision"] for e in events] == [1, 2, 3]
    assert events[1].data["full_name"] == "New" and events[1].data["email"] == user["email"]
    assert all(e.version == 1 and e.occurred_at.tzinfo is not None for e in events)
    assert len({e.event_id for e in events}) == 3
