"""The first admin, `ems create-admin`, the registration event, production settings."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from ems.auth.app import create_app
from ems.auth.commands.first_admin import DEFAULT_ADMIN, ensure_admin
from ems.auth.settings import AuthSettings
from ems.auth.spec import SPEC
from ems.common.messaging import EXCHANGE_SYNC
from ems.common.migrations import migrate_service
from ems.contracts.events import Envelope
from tests.auth.conftest import AuthService
from tests.platform.broker import probe
from tests.platform.polling import eventually


async def test_first_admin_from_settings_can_log_in_once_created(auth: AuthService) -> None:
    """If this fails, a fresh platform has no admin, or a restart changes the admin."""
    name = f"root{uuid.uuid4().hex[:6]}"
    settings = auth.settings.model_copy(
        update={"admin_username": name, "admin_password": "a-strong-secret-1"}
    )
    created = await ensure_admin(settings)
    assert created.created and created.password == "a-strong-secret-1"
    again = await ensure_admin(settings)
    assert not again.created and again.password is None
    tokens = await auth.login(name, "a-strong-secret-1")
    assert tokens["user"]["role"] == "ADMIN"


async def test_a_generated_admin_is_printed_once_and_stored_privately(
    auth: AuthService, tmp_path: Any
) -> None:
    """If this fails, the operator never learns the generated admin password, or it is
    world-readable on disk, or a second start makes another admin."""
    # A database of its own: no admin exists there yet, so one must be generated.
    settings = auth.settings.model_copy(
        update={"data_dir": tmp_path, "db_prefix": f"{auth.settings.db_prefix}gen_"}
    )
    await migrate_service(SPEC, settings)
    first = await ensure_admin(settings)
    assert first.created and first.username == DEFAULT_ADMIN
    assert first.password and first.stored_in is not None
    assert first.stored_in.stat().st_mode & 0o077 == 0
    assert first.password in first.stored_in.read_text()
    # It logs in (with this database's own auth) as an admin.
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            response = await client.post(
                "/api/auth/login", json={"username": first.username, "password": first.password}
            )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["role"] == "ADMIN"
    second = await ensure_admin(settings)
    assert not second.created and second.password is None
    assert second.username == DEFAULT_ADMIN


async def test_registration_publishes_an_event_through_the_outbox(
    auth: AuthService, amqp_vhost: str
) -> None:
    """If this fails, no other service ever learns that the user exists."""
    async with probe(amqp_vhost, (EXCHANGE_SYNC, "auth.user_registered")) as queue:
        user = await auth.register(f"kim{uuid.uuid4().hex[:6]}")
        seen: list[Envelope] = []

        async def arrived() -> bool:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                seen.append(Envelope.model_validate_json(message.body))
            return any(e.data["id"] == user["id"] for e in seen)

        await eventually(arrived, timeout=5)
    event = next(e for e in seen if e.data["id"] == user["id"])
    assert event.data["role"] == "CLIENT" and "password" not in str(event.data)


def test_production_refuses_placeholder_secrets() -> None:
    """If this fails, a production deployment can start with a default password."""
    with pytest.raises(ValidationError):
        AuthSettings(environment="production", admin_password="changeme")
    with pytest.raises(ValidationError):
        AuthSettings(
            environment="production",
            admin_password="a-real-secret-123",
            service_master_key="a-real-master-key-123",
            broker_password="guest",
        )
    with pytest.raises(ValidationError):  # no broker password at all
        AuthSettings(
            environment="production",
            admin_password="a-real-secret-123",
            service_master_key="a-real-master-key-123",
        )
    # Without the master key no service could prove who it is.
    for master in (None, "changeme"):
        with pytest.raises(ValidationError):
            AuthSettings(
                environment="production",
                admin_password="a-real-secret-123",
                service_master_key=master,
                broker_password="s3cret-broker",
            )
    AuthSettings(
        environment="production",
        admin_password="a-real-secret-123",
        service_master_key="a-real-master-key-123",
        broker_password="s3cret-broker",
    )
