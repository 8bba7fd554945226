"""The auth service's API: registration, login, rotation, logout, throttling, token checks."""

from __future__ import annotations

import uuid

import pytest

from ems.auth.security.keys import load_key_ring
from tests.auth.conftest import AuthService
from tests.platform.tokens import forged_tokens, reissued


def unique(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:6]}"


async def test_registration_always_makes_a_client(auth: AuthService) -> None:
    """If this fails, anyone can make themselves an admin by sending `role`."""
    name = unique("mallory")
    response = await auth.client.post(
        "/api/auth/register",
        json={"username": name, "password": "correct-horse-1", "role": "ADMIN", "id": "x"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "CLIENT" and body["username"] == name
    tokens = await auth.login(name)
    assert tokens["user"] == body
    assert tokens["token_type"] == "bearer"
    assert 0 < tokens["expires_in"] <= 900


async def test_usernames_are_unique_regardless_of_case(auth: AuthService) -> None:
    """If this fails, two accounts can share a name (and confuse every admin screen)."""
    name = unique("bob")
    await auth.register(name)
    response = await auth.client.post(
        "/api/auth/register", json={"username": name.upper(), "password": "correct-horse-1"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "correct-horse-1"},
        {"username": "x" * 65, "password": "correct-horse-1"},
        {"username": "with space", "password": "correct-horse-1"},
        {"username": "carol", "password": "short"},
        {"username": "carol", "password": "p" * 129},
        {"username": 42, "password": "correct-horse-1"},
        {"password": "correct-horse-1"},
        {"username": "carol", "password": "correct-horse-1", "email": "not-an-email"},
    ],
)
async def test_bad_registrations_are_refused_with_the_error_shape(
    auth: AuthService, body: dict[str, object]
) -> None:
    """If this fails, bad input creates half-valid accounts or leaks a stack trace."""
    response = await auth.client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"]


async def test_malformed_json_is_a_clear_4xx(auth: AuthService) -> None:
    """If this fails, a broken client body yields a 500 or an unshaped error."""
    response = await auth.client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert "error" in response.json()


async def test_wrong_password_and_unknown_user_look_the_same(auth: AuthService) -> None:
    """If this fails, login answers reveal which usernames exist."""
    name = unique("dave")
    await auth.register(name)
    wrong = await auth.client.post(
        "/api/auth/login", json={"username": name, "password": "wrong-password"}
    )
    unknown = await auth.client.post(
        "/api/auth/login", json={"username": unique("nobody"), "password": "wrong-password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(
    auth: AuthService,
) -> None:
    """If this fails, a stolen refresh token works forever alongside the real user's."""
    name = unique("erin")
    await auth.register(name)
    first = await auth.login(name)
    second = (
        await auth.client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"]["username"] == name

    reuse = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401
    # The reuse revoked the family: the newest token no longer works either.
    after = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_token(auth: AuthService) -> None:
    """If this fails, logging out leaves a usable refresh token behind."""
    name = unique("frank")
    await auth.register(name)
    tokens = await auth.login(name)
    out = await auth.client.post(
        "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert out.status_code == 204
    again = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert again.status_code == 401


async def test_failed_logins_are_throttled_per_account_and_address_with_retry_after(
    auth: AuthService,
) -> None:
    """If this fails, one address guesses an account's password at full speed, or is told
    neither that it must wait nor for how long."""
    name = unique("grace")
    await auth.register(name)
    limit = auth.settings.login_max_failures_per_account_address
    for _ in range(limit):
        r = await auth.client.post("/api/auth/login", json={"username": name, "password": "nope!"})
        assert r.status_code == 401
    blocked = await auth.client.post(
        "/api/auth/login", json={"username": name, "password": "correct-horse-1"}
    )
    assert blocked.status_code == 429
    retry_after = int(blocked.headers["retry-after"])
    window = auth.settings.login_window_seconds
    assert 0 < retry_after <= window / limit + 1
    assert blocked.json()["error"] == {
        "code": "too_many_attempts",
        "message": blocked.json()["error"]["message"],
        "details": {"retry_after": retry_after},
    }
    # Another account from the same address is not locked by this one.
    other = unique("heidi")
    await auth.register(other)
    await auth.login(other)


async def test_jwks_publishes_public_keys_only(auth: AuthService) -> None:
    """If this fails, services cannot verify tokens, or the private key leaks."""
    keys = (await auth.client.get("/api/auth/jwks.json")).json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in keys)
    assert all("d" not in k for k in keys)


async def test_verify_passes_a_valid_token_with_the_current_identity(auth: AuthService) -> None:
    """If this fails, the gateway cannot tell services who is calling."""
    name = unique("ivan")
    user = await auth.register(name)
    tokens = await auth.login(name)
    gateway = auth.as_gateway()
    r = await auth.client.get(
        "/internal/verify",
        headers={**gateway, "authorization": f"Bearer {tokens['access_token']}"},
    )
    assert r.status_code == 200
    assert r.headers["x-user-id"] == user["id"]
    assert r.headers["x-user-role"] == "CLIENT"
    assert r.headers["x-user-name"] == name
    # WebSocket upgrades carry the token in the query string of the original URI.
    ws = await auth.client.get(
        "/internal/verify",
        headers={**gateway, "x-original-uri": f"/ws?token={tokens['access_token']}"},
    )
    assert ws.status_code == 200 and ws.headers["x-user-id"] == user["id"]
    missing = await auth.client.get("/internal/verify", headers=gateway)
    assert missing.status_code == 401


async def test_every_forged_token_is_refused(auth: AuthService) -> None:
    """If this fails, someone can mint or alter a token and act as another user or admin."""
    name = unique("judy")
    await auth.register(name)
    valid = (await auth.login(name))["access_token"]
    jwks = (await auth.client.get("/api/auth/jwks.json")).json()
    ring = await load_key_ring(auth.app.state.runtime.db)
    variants = forged_tokens(valid, jwks, ring.signing_key)
    variants["wrong audience"] = reissued(valid, ring.signing_key, aud="another-system")
    variants["wrong issuer"] = reissued(valid, ring.signing_key, iss="someone-else")
    variants["not an access token"] = reissued(valid, ring.signing_key, typ="refresh")
    variants["really expired"] = reissued(valid, ring.signing_key, exp=1_600_000_000)
    gateway = auth.as_gateway()
    for label, token in variants.items():
        for path in ("/internal/verify", "/api/auth/me"):
            r = await auth.client.get(path, headers={**gateway, "authorization": f"Bearer {token}"})
            assert r.status_code == 401, f"{label} accepted by {path}"
    ok = await auth.client.get("/api/auth/me", headers={"authorization": f"Bearer {valid}"})
    assert ok.status_code == 200


async def test_text_the_database_cannot_store_is_a_422_not_a_500(auth: AuthService) -> None:
    """If this fails, a NUL character in a field that reaches the database is a server
    error (and, behind the gateway, a dropped connection) instead of a refusal."""
    response = await auth.client.post(
        "/api/auth/login", json={"username": "nul\u0000name", "password": "whatever-1"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
