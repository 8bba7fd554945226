"""The whole path a browser takes: nginx (forward auth to the auth service) in front of
realtime and support, with real tokens, sockets and messages."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from ems.auth.spec import SPEC as AUTH_SPEC
from ems.common.credentials import gateway_credential, master_key
from ems.common.migrations import migrate_service
from ems.gateway.nginx import Upstream, placeholder_root
from ems.realtime.app import create_app as create_realtime_app
from ems.realtime.settings import RealtimeSettings
from ems.realtime.spec import SPEC as REALTIME_SPEC
from ems.stack.gateway import gateway_child, write_config
from ems.support.app import create_app as create_support_app
from ems.support.settings import SupportSettings
from ems.support.spec import SPEC as SUPPORT_SPEC
from tests.platform.auth import AuthServer, Login
from tests.platform.polling import eventually
from tests.platform.servers import serve
from tests.platform.sockets import connected, open_socket
from tests.platform.tcpproxy import free_port


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
async def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    auth_server: AuthServer,
    realtime_settings: RealtimeSettings,
    make_settings: Any,
) -> AsyncIterator[str]:
    """nginx on a free port routing to auth, two realtime instances and support."""
    support_settings: SupportSettings = make_settings(
        SupportSettings, auth_internal_url=f"http://{auth_server.address}"
    )
    await migrate_service(SUPPORT_SPEC, support_settings)
    options = realtime_settings.uvicorn_options()
    async with (
        serve(create_realtime_app(realtime_settings), **options) as rt1,
        serve(create_realtime_app(realtime_settings), **options) as rt2,
        serve(create_support_app(support_settings)) as support,
    ):
        folder = tmp_path_factory.mktemp("gw")
        port = free_port()
        conf = write_config(
            folder,
            "127.0.0.1",
            port,
            placeholder_root(),
            (
                Upstream(
                    "auth", (_port(auth_server.address),), AUTH_SPEC.routes, AUTH_SPEC.api_prefix
                ),
                Upstream(
                    "realtime",
                    (_port(rt1), _port(rt2)),
                    REALTIME_SPEC.routes,
                    REALTIME_SPEC.api_prefix,
                ),
                Upstream(
                    "support", (_port(support),), SUPPORT_SPEC.routes, SUPPORT_SPEC.api_prefix
                ),
            ),
            credential=gateway_credential(master_key(support_settings, None)),
        )
        nginx = subprocess.Popen(
            # Missing nginx fails here, as in every suite that needs it (make setup installs it).
            gateway_child(conf).argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient() as http:

                async def up() -> bool:
                    assert nginx.poll() is None, "nginx exited"
                    try:
                        await http.get(f"http://{url}/api/auth/jwks.json")
                    except httpx.HTTPError:
                        return False
                    return True

                await eventually(up, timeout=20)
            yield url
        finally:
            nginx.terminate()
            await asyncio.to_thread(nginx.wait, 20)


async def test_through_the_gateway_chat_reaches_exactly_its_recipients(
    gateway: str, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, the deployed path (nginx forward auth, WebSocket upgrade, two
    realtime replicas) loses or misroutes live chat, or lets a bad token through."""
    alice, bob = await auth_server.client("gwa"), await auth_server.client("gwb")
    # Several sockets: nginx spreads them over both realtime replicas.
    a = [await connected(gateway, alice.access_token) for _ in range(2)]
    b = await connected(gateway, bob.access_token)
    admin = await connected(gateway, admin_login.access_token)
    async with httpx.AsyncClient(base_url=f"http://{gateway}") as http:
        sent = await http.post(
            "/api/support/messages",
            json={"text": "gateway hello to the admins", "mode": "admin"},
            headers={"Authorization": f"Bearer {alice.access_token}"},
        )
        assert sent.status_code == 200, sent.text
        await admin.wait_for("chat.message", text="gateway hello to the admins")
        reply = await http.post(
            "/api/support/admin/reply",
            json={"user_id": str(alice.id), "text": "gateway reply"},
            headers={"Authorization": f"Bearer {admin_login.access_token}"},
        )
        assert reply.status_code == 201, reply.text
        for sock in a:
            await sock.wait_for("chat.message", text="gateway reply")
        bot = await http.post(
            "/api/support/messages",
            json={"text": "thanks", "mode": "bot"},
            headers={"Authorization": f"Bearer {bob.access_token}"},
        )
        assert bot.json()["reply"]["sender"] == "bot"
        await b.wait_for("chat.message", sender="bot")
        assert not b.of_type("chat.message")[0]["text"].startswith("gateway")
        assert all(m["user_id"] == str(bob.id) for m in b.of_type("chat.message"))
        assert all(m["user_id"] == str(alice.id) for m in admin.of_type("chat.message"))
        denied = await http.get(
            "/api/support/conversations",
            headers={"Authorization": f"Bearer {bob.access_token}"},
        )
        assert denied.status_code == 403
    for sock in (*a, b, admin):
        await sock.close()


async def test_the_gateway_refuses_a_socket_without_a_valid_token(gateway: str) -> None:
    """If this fails, the gateway lets unauthenticated sockets through to realtime."""
    for token in (None, "not.a.token"):
        with pytest.raises(InvalidStatus) as refused:
            await open_socket(gateway, token)
        assert refused.value.response.status_code == 401


async def test_the_api_docs_are_public_and_the_api_is_not(gateway: str) -> None:
    """If this fails, the OpenAPI docs need a token, or the support API answers without
    one."""
    async with httpx.AsyncClient(base_url=f"http://{gateway}") as http:
        for service in ("support", "realtime"):
            docs = await http.get(f"/api/{service}/openapi.json")
            assert docs.status_code == 200 and docs.json()["info"]["title"]
        assert (await http.get("/api/support/history")).status_code == 401
        assert (await http.get("/api/realtime/presence")).status_code == 401
