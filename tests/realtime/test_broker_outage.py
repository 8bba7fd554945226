"""The broker goes away and comes back: sockets stay open and delivery resumes."""

from __future__ import annotations

import httpx

from ems.contracts.ws import Audience
from ems.realtime.app import create_app
from ems.realtime.settings import RealtimeSettings
from tests.platform.auth import AuthServer
from tests.platform.broker import Senders, publish_ws
from tests.platform.polling import eventually
from tests.platform.servers import serve
from tests.platform.sockets import connected
from tests.platform.tcpproxy import TcpProxy
from tests.realtime.messages import chat


async def test_delivery_resumes_after_a_broker_outage(
    realtime_settings: RealtimeSettings, auth_server: AuthServer, senders: Senders
) -> None:
    """If this fails, a broker restart silently ends every live alert until realtime is
    restarted by hand, or drops every open socket."""
    proxy = TcpProxy(5672)
    await proxy.start()
    url = realtime_settings.amqp_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    settings = realtime_settings.model_copy(update={"amqp_url": url})
    user = await auth_server.client("outage")
    try:
        async with serve(create_app(settings), **settings.uvicorn_options()) as address:
            sock = await connected(address, user.access_token)
            async with httpx.AsyncClient(base_url=f"http://{address}") as http:

                async def ready(expected: int) -> bool:
                    return (await http.get("/health/ready")).status_code == expected

                await proxy.cut()
                await eventually(lambda: ready(503), timeout=15)
                await proxy.restore()
                await eventually(lambda: ready(200), timeout=30)

            async def delivered() -> bool:
                # Until the queue is declared again a message may find no queue: retry.
                await publish_ws(
                    senders, chat(user.id, "after the outage"), Audience(user_ids=[user.id])
                )
                return bool(sock.of_type("chat.message"))

            await eventually(delivered, timeout=30, interval=0.5)
            assert sock.close_code is None
            await sock.close()
    finally:
        await proxy.stop()
