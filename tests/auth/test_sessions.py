"""Sessions that end when they are ended (at auth itself), login throttling that stops
guessing without locking the owner out, and the service credentials `/internal/*` needs."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from ems.auth.models import RefreshToken
from tests.auth.conftest import AuthService
from tests.platform.identity import bearer

PASSWORD = "correct-horse-1"


def unique(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:6]}"


def from_address(auth: AuthService, address: str) -> httpx.AsyncClient:
    """A client of the same auth app seen as coming from another address."""
    transport = httpx.ASGITransport(app=auth.app, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://auth", timeout=60)


async def test_logout_stops_the_access_token_at_once(auth: AuthService) -> None:
    """If this fails, a logged-out access token keeps working until it expires."""
    name = unique("olga")
    await auth.register(name)
    tokens = await auth.login(name)
    other = await auth.login(name)
    assert (
        await auth.client.get("/api/auth/me", headers=bearer(tokens["access_token"]))
    ).is_success
    out = await auth.client.post(
        "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert out.status_code == 204
    me = await auth.client.get("/api/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
    assert "ended" in me.json()["error"]["message"]
    verify = await auth.client.get(
        "/internal/verify", headers={**auth.as_gateway(), **bearer(tokens["access_token"])}
    )
    assert verify.status_code == 401
    # Another login of the same user is another session: it goes on.
    still = await auth.client.get("/api/auth/me", headers=bearer(other["access_token"]))
    assert still.status_code == 200


async def test_a_password_change_ends_every_session_but_the_new_one(auth: AuthService) -> None:
    """If this fails, whoever stole a token (or a refresh token) keeps the account after
    its owner changed the password."""
    name = unique("pete")
    await auth.register(name)
    stolen = await auth.login(name)
    mine = await auth.login(name)
    changed = await auth.client.post(
        "/api/auth/password",
        json={"old_password": PASSWORD, "new_password": "another-horse-2"},
        headers=bearer(mine["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    for old in (stolen, mine):
        me = await auth.client.get("/api/auth/me", headers=bearer(old["access_token"]))
        assert me.status_code == 401
        again = await auth.client.post(
            "/api/auth/refresh", json={"refresh_token": old["refresh_token"]}
        )
        assert again.status_code == 401
    me = await auth.client.get("/api/auth/me", headers=bearer(fresh["access_token"]))
    assert me.status_code == 200
    renewed = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
    )
    assert renewed.status_code == 200


async def test_a_replayed_refresh_token_ends_the_sessions_access_tokens(
    auth: AuthService,
) -> None:
    """If this fails, the thief who replayed a refresh token keeps a working access token."""
    name = unique("quinn")
    await auth.register(name)
    first = await auth.login(name)
    rotated = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    current = rotated.json()["access_token"]
    assert (await auth.client.get("/api/auth/me", headers=bearer(current))).status_code == 200
    replay = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 401
    assert (await auth.client.get("/api/auth/me", headers=bearer(current))).status_code == 401


async def test_a_login_cannot_be_refreshed_past_its_absolute_lifetime(auth: AuthService) -> None:
    """If this fails, refreshing every few minutes keeps one login alive for ever."""
    name = unique("rita")
    await auth.register(name)
    tokens = await auth.login(name)
    db = auth.app.state.runtime.db
    too_old = datetime.now(UTC) - timedelta(days=auth.settings.session_max_days, minutes=1)
    async with db.transaction() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == uuid.UUID(tokens["user"]["id"]))
            .values(session_started_at=too_old)
        )
    refused = await auth.client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refused.status_code == 401
    assert "log in again" in refused.json()["error"]["message"]


async def test_parallel_guesses_never_get_past_the_limit(auth: AuthService) -> None:
    """If this fails, an attacker firing guesses in parallel gets more password checks than
    the limit allows (the count and the check are not atomic)."""
    name = unique("sam")
    await auth.register(name)
    attacker = from_address(auth, "198.51.100.20")
    async with attacker:
        answers = await asyncio.gather(
            *(
                attacker.post("/api/auth/login", json={"username": name, "password": f"guess{i}"})
                for i in range(25)
            )
        )
    statuses = sorted(r.status_code for r in answers)
    limit = auth.settings.login_max_failures_per_account_address
    assert statuses.count(401) == limit, statuses
    assert statuses.count(429) == 25 - limit, statuses
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 429)


async def test_the_owner_gets_in_from_another_address_while_an_attacker_is_throttled(
    auth: AuthService,
) -> None:
    """If this fails, anyone can lock anyone (the admin too) out of their account by
    failing to log in as them."""
    name = unique("tess")
    await auth.register(name)
    attacker = from_address(auth, "198.51.100.30")
    owner = from_address(auth, "192.0.2.44")
    async with attacker, owner:
        for i in range(30):
            await attacker.post("/api/auth/login", json={"username": name, "password": f"x{i}"})
        blocked = await attacker.post("/api/auth/login", json={"username": name, "password": "y"})
        assert blocked.status_code == 429
        started = time.monotonic()
        mine = await owner.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        took = time.monotonic() - started
    assert mine.status_code == 200, mine.text
    assert took < 5, f"the owner waited {took:.1f} s"


async def test_guesses_at_one_account_from_many_addresses_stay_around_one_a_second(
    auth: AuthService,
) -> None:
    """If this fails, a botnet (one guess per address) checks passwords of one account at
    full speed."""
    name = unique("uma")
    await auth.register(name)
    clients = [from_address(auth, f"203.0.113.{100 + i}") for i in range(40)]
    checked: list[float] = []

    async def guess(client: httpx.AsyncClient, i: int) -> int:
        async with client:
            response = await client.post(
                "/api/auth/login", json={"username": name, "password": f"guess{i}"}
            )
        if response.status_code == 401:
            checked.append(time.monotonic())
        return response.status_code

    started = time.monotonic()
    statuses = await asyncio.gather(*(guess(c, i) for i, c in enumerate(clients)))
    settings = auth.settings
    burst, interval = settings.login_account_burst, settings.login_account_interval_seconds
    most = burst + int(settings.login_max_delay_seconds / interval) + 1
    assert set(statuses) <= {401, 429}
    assert burst < len(checked) <= most, sorted(statuses)
    # Past the burst, the checks are spread at the account's pace (a little slack for
    # the scheduling of a loaded machine).
    elapsed = max(checked) - started
    assert elapsed >= (len(checked) - burst - 1) * interval * 0.9, elapsed


async def test_internal_routes_need_the_right_service_credential(auth: AuthService) -> None:
    """If this fails, anyone who reaches auth's port lists every login, creates logins or
    reads the revocations, or one service acts with another's rights."""
    nobody = await auth.client.get("/internal/credentials")
    assert nobody.status_code == 401
    assert nobody.json()["error"]["code"] == "unauthorized"
    forged = await auth.client.get(
        "/internal/credentials", headers={"X-Service-Token": "users:not-the-secret"}
    )
    assert forged.status_code == 401
    wrong = await auth.client.post("/internal/service-token", auth=("users", "not-the-secret"))
    assert wrong.status_code == 401
    devices = await auth.as_service("devices")
    assert (await auth.client.get("/internal/credentials", headers=devices)).status_code == 403
    users = await auth.as_service("users")
    assert (await auth.client.get("/internal/credentials", headers=users)).status_code == 200
    assert (await auth.client.get("/internal/revocations", headers=devices)).status_code == 200
    # The forward-auth check answers the gateway only.
    name = unique("vera")
    await auth.register(name)
    token = (await auth.login(name))["access_token"]
    as_users = await auth.client.get("/internal/verify", headers={**users, **bearer(token)})
    assert as_users.status_code == 403
    alone = await auth.client.get("/internal/verify", headers=bearer(token))
    assert alone.status_code == 401
    # A user's access token is no service credential, and a service token no user's.
    as_user = await auth.client.get("/internal/credentials", headers={"X-Service-Token": token})
    assert as_user.status_code == 401
    me = await auth.client.get("/api/auth/me", headers=bearer(users["X-Service-Token"]))
    assert me.status_code == 401


async def test_revocations_are_served_incrementally_and_never_skip_a_late_commit(
    auth: AuthService,
) -> None:
    """If this fails, a service polling the revocations misses one (a logout that keeps
    working there) or gets nothing without a cursor."""
    headers = await auth.as_service("support")
    name = unique("wes")
    await auth.register(name)
    tokens = await auth.login(name)
    first = (await auth.client.get("/internal/revocations", headers=headers)).json()
    await auth.client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    later = (
        await auth.client.get(
            "/internal/revocations", params={"since": first["cursor"]}, headers=headers
        )
    ).json()
    ended = [i for i in later["items"] if i["user_id"] == tokens["user"]["id"]]
    assert [i["reason"] for i in ended] == ["logout"]
    assert ended[0]["session_id"] is not None
    everything = (await auth.client.get("/internal/revocations", headers=headers)).json()
    assert any(i["user_id"] == tokens["user"]["id"] for i in everything["items"])
