"""Several realtime instances side by side: each delivers to its own sockets, and they
share one view of who is online."""

from __future__ import annotations

import uuid

import httpx

from ems.contracts.ws import Audience
from ems.realtime.app import create_app
from ems.realtime.settings import RealtimeSettings
from tests.platform.auth import AuthServer, Login
from tests.platform.broker import Senders, publish_ws
from tests.platform.polling import eventually
from tests.platform.servers import serve
from tests.platform.sockets import connected
from tests.realtime.messages import alert_for


async def test_two_instances_each_deliver_to_their_own_sockets_and_share_presence(
    realtime: str,
    realtime_settings: RealtimeSettings,
    auth_server: AuthServer,
    admin_login: Login,
    senders: Senders,
) -> None:
    """If this fails, a second realtime replica steals messages from the first (users on
    one of them miss alerts), or admins see only the users of their own instance."""
    client = await auth_server.client("far")
    async with serve(
        create_app(realtime_settings), **realtime_settings.uvicorn_options()
    ) as second:
        admin = await connected(realtime, admin_login.access_token)
        sock = await connected(second, client.access_token)
        await admin.wait_for("presence.changed", user_id=str(client.id), online=True)

        async with httpx.AsyncClient() as http:

            async def listed() -> bool:
                response = await http.get(
                    f"http://{realtime}/api/realtime/presence",
                    headers={"Authorization": f"Bearer {admin_login.access_token}"},
                )
                return str(client.id) in {i["user_id"] for i in response.json()["items"]}

            await eventually(listed)

        device = uuid.uuid4()
        await publish_ws(senders, alert_for(device), Audience(user_ids=[client.id], admins=True))
        await sock.wait_for("notify.overconsumption", device_id=str(device))
        await admin.wait_for("notify.overconsumption", device_id=str(device))
        assert len(sock.of_type("notify.overconsumption")) == 1
    # The second instance stopped: its user is offline everywhere.
    assert await sock.wait_closed() == 1012
    await admin.wait_for("presence.changed", user_id=str(client.id), online=False)
    await admin.close()
