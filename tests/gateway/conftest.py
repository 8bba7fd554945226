"""Two ways to meet the gateway.

`gateway`: the real nginx with a config rendered from routes like the services' own, in
front of a fake upstream that records every request it gets: exact checks of what reaches
a service. `stack`: the whole platform started with `ems up --no-demo`, as a user would.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ems.auth.spec import SPEC as AUTH_SPEC
from ems.common.registry import Route, service_specs
from ems.gateway.nginx import Upstream, placeholder_root
from ems.stack.gateway import gateway_child, write_config
from tests.gateway.fake_upstream import FakeUpstream
from tests.gateway.running import (
    children_of,
    clean_environment,
    is_alive,
    port_is_free,
    tail,
)
from tests.platform.broker import TOOLS, TestBroker, plain_url, vhost_name
from tests.platform.polling import eventually_blocking

REPO = Path(__file__).resolve().parents[2]
STACK_START_TIMEOUT = 240.0


@dataclass
class Gateway:
    url: str
    upstream: FakeUpstream


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """nginx routing the auth routes, a protected service with a WebSocket and a dead one."""
    folder = tmp_path_factory.mktemp("gateway")
    upstream = FakeUpstream()
    upstream.start()
    services = (
        Upstream("auth", (upstream.port,), AUTH_SPEC.routes),
        Upstream(
            "echo",
            (upstream.port,),
            (Route("/api/echo/", "authenticated"), Route("/ws", "authenticated", websocket=True)),
        ),
        Upstream("gone", (_unused_port(),), (Route("/api/gone/", "public"),)),
    )
    port = _unused_port()
    conf = write_config(folder, "127.0.0.1", port, placeholder_root(), services)
    log = folder / "nginx.log"
    with log.open("wb") as out:
        nginx = subprocess.Popen(
            gateway_child(conf).argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually_blocking(
            lambda: nginx.poll() is not None or _answers(url), timeout=20, what="nginx"
        )
        assert nginx.poll() is None, f"nginx exited:\n{tail(log)}"
        yield Gateway(url, upstream)
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)
        upstream.stop()


@dataclass
class RunningStack:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    admin_username: str
    admin_password: str
    env: dict[str, str]

    def child_pid(self, command_part: str) -> int | None:
        """The runner's child whose command line contains `command_part`."""
        for pid, cmdline in children_of(self.process.pid).items():
            if command_part in cmdline:
                return pid
        return None


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    pg_admin_url: str,
    db_prefix: str,
    run_id: str,
    test_broker: TestBroker,
) -> Iterator[RunningStack]:
    """`ems up --no-demo` on this run's own databases, vhost, broker logins, ports and data
    folder."""
    folder = tmp_path_factory.mktemp("stack")
    vhost = vhost_name(run_id)
    test_broker.provision(vhost)
    offset = _free_port_offset()
    env = {
        **clean_environment(),
        "EMS_PG_URL": pg_admin_url,
        # Under the session's prefix, which the root conftest drops at the end.
        "EMS_DB_PREFIX": f"{db_prefix}stack_",
        **test_broker.stack_environment(plain_url(vhost)),
        "EMS_DATA_DIR": str(folder / "data"),
        "EMS_HTTP_PORT": str(8080 + offset),
        "EMS_PORT_OFFSET": str(offset),
        # No web build: the placeholder page is what the SPA tests expect.
        "EMS_WEB_DIST": str(folder / "no-web-build"),
        "EMS_ADMIN_USERNAME": "stackadmin",
        "EMS_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "EMS_ENVIRONMENT": "test",
        "EMS_LOG_JSON": "false",
        # A service that never gets ready fails the start-up well before the fixture gives up.
        "EMS_READY_TIMEOUT": "60",
    }
    log = folder / "ems-up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ems.cli", "up", "--no-demo"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{8080 + offset}"
    running = RunningStack(
        url, process, log, env["EMS_ADMIN_USERNAME"], env["EMS_ADMIN_PASSWORD"], env
    )
    try:
        eventually_blocking(
            lambda: process.poll() is not None or _answers(url),
            timeout=STACK_START_TIMEOUT,
            what="ems up",
        )
        assert process.poll() is None, f"ems up exited:\n{tail(log)}"
        yield running
    finally:
        children = children_of(process.pid)
        code = _stop(process)
        TOOLS.ctl("delete_vhost", vhost)
    left = [f"{pid} {cmd}" for pid, cmd in children.items() if is_alive(pid)]
    for pid in children:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert code == 0, f"ems up exited with {code} on SIGTERM:\n{tail(log)}"
    assert not left, f"ems up left processes running: {left}"


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _unused_port() -> int:
    # Below the kernel's ephemeral range, so an outgoing connection cannot take it meanwhile.
    while True:
        port = random.randrange(20000, 30000)
        if port_is_free(port):
            return port


def _free_port_offset() -> int:
    """A port offset under which the gateway and every service replica find free ports."""
    ports = [8080] + [s.port + i for s in service_specs() for i in range(s.replicas)]
    for _ in range(100):
        offset = random.randrange(10000, 20000, 10)
        if all(port_is_free(port + offset) for port in ports):
            return offset
    raise AssertionError("no free port range for the stack")
