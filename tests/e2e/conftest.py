"""The browser tests' platform: `ems up --no-demo` serving the built web app.

One stack for the whole e2e package, on this run's own databases, vhost, ports and data
folder, with short-lived access tokens so that silent refresh and session expiry happen
within a test. The flows themselves are Node scripts (playwright-core driving Debian's
Chromium); see `test_browser.py`.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from ems.common.messaging.topology import METER
from ems.common.registry import service_specs
from tests.platform.broker import TOOLS, TestBroker, plain_url, vhost_name

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
CHROMIUM = Path(os.environ.get("EMS_E2E_CHROMIUM", "/usr/bin/chromium"))
STACK_START_TIMEOUT = 240.0
# Short enough that the expiry flow waits it out in seconds, long enough that a loaded
# machine never sees a token expire between the browser reading it and the server checking.
TOKEN_TTL_SECONDS = 30

T = TypeVar("T")


@dataclass
class BrowserStack:
    url: str
    admin_username: str
    admin_password: str
    amqp_url: str
    log: Path

    def node_env(self) -> dict[str, str]:
        """What the Node scripts need to find the stack, its admin and its broker."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("EMS_")},
            "EMS_E2E_URL": self.url,
            "EMS_E2E_ADMIN_USERNAME": self.admin_username,
            "EMS_E2E_ADMIN_PASSWORD": self.admin_password,
            "EMS_E2E_TOKEN_TTL": str(TOKEN_TTL_SECONDS),
            "EMS_E2E_CHROMIUM": str(CHROMIUM),
            "EMS_AMQP_URL": self.amqp_url,
        }


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built web app (`make` builds it; built here when missing)."""
    index = WEB / "dist" / "index.html"
    if not index.exists():
        npm = shutil.which("npm")
        assert npm, "the web app needs Node.js and npm to build"
        if not (WEB / "node_modules").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
        subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    assert index.exists(), "web/dist/index.html missing after the build"
    return index.parent


@pytest.fixture(scope="session")
def node() -> str:
    """Node.js with playwright-core installed, and Debian's Chromium."""
    binary = shutil.which("node")
    assert binary, "browser tests need Node.js"
    assert (WEB / "node_modules" / "playwright-core").exists(), "run `npm ci` in web/ first"
    assert CHROMIUM.exists(), f"browser tests need Chromium at {CHROMIUM} (apt install chromium)"
    return binary


@pytest.fixture(scope="session")
def browser_stack(
    tmp_path_factory: pytest.TempPathFactory,
    pg_admin_url: str,
    db_prefix: str,
    run_id: str,
    web_dist: Path,
    test_broker: TestBroker,
) -> Iterator[BrowserStack]:
    folder = tmp_path_factory.mktemp("e2e-stack")
    vhost = vhost_name(run_id)
    test_broker.provision(vhost)
    offset = _free_port_offset()
    password = secrets.token_urlsafe(16)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EMS_")},
        "EMS_PG_URL": pg_admin_url,
        "EMS_DB_PREFIX": f"{db_prefix}e2e_",
        **test_broker.stack_environment(plain_url(vhost)),
        "EMS_DATA_DIR": str(folder / "data"),
        "EMS_HTTP_PORT": str(8080 + offset),
        "EMS_PORT_OFFSET": str(offset),
        "EMS_WEB_DIST": str(web_dist),
        "EMS_ADMIN_USERNAME": "e2eadmin",
        "EMS_ADMIN_PASSWORD": password,
        "EMS_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS),
        "EMS_ENVIRONMENT": "test",
        "EMS_LOG_JSON": "false",
        "EMS_READY_TIMEOUT": "90",
        # The admin digest of alerts within a flow's patience (default: a minute).
        "EMS_ALERT_DIGEST_SECONDS": "5",
        # Readings as old as the spring daylight-saving day of last year are taken (the
        # comparison with a year before needs them); the default keeps 90 days.
        "EMS_READINGS_RETENTION_DAYS": "1000",
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
    try:
        _wait_for(
            lambda: process.poll() is not None or _ready(url),
            timeout=STACK_START_TIMEOUT,
            what="ems up",
        )
        assert process.poll() is None, f"ems up exited:\n{_tail(log)}"
        # The browser flows publish readings as a meter does.
        meter_url = test_broker.url(plain_url(vhost), METER)
        yield BrowserStack(url, "e2eadmin", password, meter_url, log)
    finally:
        _stop(process)
        TOOLS.ctl("delete_vhost", vhost)


def _ready(url: str) -> bool:
    """The gateway serves the app and every API the flows use answers."""
    try:
        with httpx.Client(base_url=url, timeout=2) as client:
            if '<div id="root">' not in client.get("/").text:
                return False
            paths = ("/api/auth/jwks.json", "/api/consumption/openapi.json")
            return all(client.get(path).status_code == 200 for path in paths)
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_for(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_offset() -> int:
    """An offset under which the gateway and every service replica find free ports."""
    ports = [8080] + [s.port + i for s in service_specs() for i in range(s.replicas)]
    for _ in range(100):
        offset = random.randrange(20000, 30000, 10)
        if all(_port_is_free(port + offset) for port in ports):
            return offset
    raise AssertionError("no free port range for the e2e stack")


def _tail(path: Path, lines: int = 80) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"
