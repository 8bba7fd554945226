"""The private PostgreSQL and RabbitMQ `ems up` starts when none answers."""

from __future__ import annotations

import io
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ems.common.messaging.credentials import connection_url
from ems.common.messaging.topology import IDENTITIES
from ems.stack import postgres, rabbitmq
from ems.stack.probes import StackError
from ems.stack.processes import Output
from ems.stack.runner import Stack
from ems.stack.settings import StackSettings
from tests.gateway.running import children_of, is_alive

pytestmark = pytest.mark.skipif(
    not (Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists() and shutil.which("epmd")),
    reason="needs the rabbitmq-server and postgresql packages",
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's tmp folder: as root, PostgreSQL runs as `postgres`, which cannot
    # enter root's private folders.
    folder = Path(tempfile.mkdtemp(prefix="ems-private-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_private_servers_start_answer_and_stop(data_dir: Path) -> None:
    """Else `ems up` on a machine without PostgreSQL or RabbitMQ running cannot start."""
    settings = StackSettings(
        pg_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}",
        amqp_url=f"amqp://127.0.0.1:{_closed_port()}/",
        data_dir=data_dir,
        # The developer's logins (not a test run's): generated into the data folder.
        broker_user_prefix="",
        broker_secrets_dir=None,
        # Not the default ports: a developer's own private servers may be using them.
        private_pg_port=_closed_port(),
        private_amqp_port=_closed_port(),
    )
    out = io.StringIO()
    stack = Stack(settings, Output(out))
    # Other tests' processes (a whole stack, say) may be children of this process too.
    before = children_of(os.getpid())
    try:
        try:
            endpoints = await stack.start_infrastructure()
        except StackError as exc:
            pytest.fail(f"{exc}; what the runner printed:\n{out.getvalue()}")
        assert await postgres.login_problem(endpoints.pg_url) is None
        # Every service logs in as itself; guest, whom everybody knows, cannot.
        on_broker = settings.model_copy(update={"amqp_url": endpoints.amqp_url})
        for identity in IDENTITIES:
            url = connection_url(on_broker, identity)
            assert await rabbitmq.login_problem(url) is None, identity
        guest = endpoints.amqp_url.replace("amqp://", "amqp://guest:guest@")
        assert await rabbitmq.login_problem(guest) is not None
        servers = {p: c for p, c in children_of(os.getpid()).items() if p not in before}
        assert any("postgres -D" in cmd for cmd in servers.values()), servers
        assert any("rabbitmq-server" in cmd for cmd in servers.values()), servers
        assert (data_dir / "pg" / "PG_VERSION").exists()
        broker_pid = int((data_dir / "rabbitmq" / "rabbitmq.pid").read_text())
    finally:
        await stack.stop()
    assert not any(is_alive(pid) for pid in servers), out.getvalue()
    assert not is_alive(broker_pid)
