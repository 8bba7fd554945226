"""Real processes a failure test can SIGKILL and bring back: a private PostgreSQL and
RabbitMQ (from the Debian binaries, never the machine's shared servers) and EMS services
run as `ems serve`. Each process leads its own process group, so a kill takes its children
with it (PostgreSQL's backends, the broker's Erlang helpers), as a crash of its host would.

`wrap` prefixes a command, e.g. `ip netns exec h1` to run it on another network "host".
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx

from ems.common.messaging.credentials import ensure_passwords
from ems.common.messaging.topology import IDENTITIES, MONITORING
from ems.common.registry import service_spec
from ems.stack.postgres import prepare_private_postgres
from ems.stack.rabbitmq import login_problem, prepare_private_rabbitmq
from tests.platform.polling import eventually
from tests.platform.tcpproxy import free_port

ROOT = Path(__file__).resolve().parents[2]


def work_folder(prefix: str) -> Path:
    """A folder the postgres account can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    return folder


@dataclass
class Proc:
    """One command, started in its own session, output to a log file."""

    name: str
    argv: Sequence[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    wrap: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        with self.log.open("ab") as out:
            out.write(f"\n=== start {time.strftime('%H:%M:%S')}\n".encode())
            self.process = subprocess.Popen(
                [*self.wrap, *self.argv],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the process and everything it started."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.kills += 1

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # Whatever is left of the group (a wrapper's children) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


async def wait_until(probe: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """`eventually`, and the seconds it took."""
    started = time.monotonic()
    await eventually(probe, timeout, what=what)
    return time.monotonic() - started


# ----------------------------------------------------------------------------- PostgreSQL


@dataclass
class Postgres:
    proc: Proc
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}"

    async def accepts(self) -> bool:
        if not self.proc.running:
            raise AssertionError(f"PostgreSQL exited:\n{self.proc.tail()}")
        try:
            conn = await asyncpg.connect(f"{self.url}/postgres", timeout=2)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False
        await conn.close()
        return True

    async def start(self, timeout: float = 30.0) -> float:
        self.proc.start()
        return await wait_until(self.accepts, timeout, "PostgreSQL accepts connections")


async def private_postgres(
    folder: Path, host: str = "127.0.0.1", wrap: Sequence[str] = (), trust: str = ""
) -> Postgres:
    """initdb in `folder/pg`; `trust` adds a pg_hba line for another network."""
    server = await prepare_private_postgres(folder / "pg", free_port())
    if trust:
        with (server.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {trust} trust\n")
    port = server.port if host == "127.0.0.1" else 5432
    argv = [
        str(server.bin_dir / "postgres"),
        "-D",
        str(server.data),
        "-c",
        f"listen_addresses={host}",
        "-c",
        f"port={port}",
        "-c",
        "unix_socket_directories=",
        # Enough for five services with their pools and the test's own connections.
        "-c",
        "max_connections=200",
    ]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", pwd.getpwnam("postgres").pw_name, "--", *argv]
    proc = Proc("postgres", argv, folder / "postgres.log", wrap=wrap)
    return Postgres(proc, host, port)


# ----------------------------------------------------------------------------- RabbitMQ


@dataclass
class RabbitMQ:
    epmd: Proc
    proc: Proc
    host: str
    port: int
    # The platform's logins on it (no prefix, as a deployment's) and their passwords' folder.
    secrets: Path

    @property
    def url(self) -> str:
        """Where it is; every client adds its own login."""
        return f"amqp://{self.host}:{self.port}/"

    def login_url(self, identity: str, query: str = "") -> str:
        """Logged in as `identity` (a service, or `meter`)."""
        password = quote((self.secrets / identity).read_text().strip(), safe="")
        return f"amqp://{identity}:{password}@{self.host}:{self.port}/{query}"

    def environment(self, query: str = "") -> dict[str, str]:
        """What an `ems serve` process needs to log in to it as itself."""
        return {
            "EMS_AMQP_URL": f"{self.url}{query}",
            "EMS_BROKER_USER_PREFIX": "",
            "EMS_BROKER_SECRETS_DIR": str(self.secrets),
        }

    async def accepts(self) -> bool:
        if not self.proc.running:
            raise AssertionError(f"RabbitMQ exited:\n{self.proc.tail()}")
        return await login_problem(self.login_url(MONITORING)) is None

    async def start(self, timeout: float = 60.0) -> float:
        if not self.epmd.running:
            self.epmd.start()
        self.proc.start()
        return await wait_until(self.accepts, timeout, "RabbitMQ accepts connections")

    def stop(self) -> None:
        self.proc.stop()
        self.epmd.stop()


def private_rabbitmq(folder: Path, host: str = "127.0.0.1", wrap: Sequence[str] = ()) -> RabbitMQ:
    """A broker with everything under `folder/rabbitmq`, provisioned as `ems up` provisions
    its private one (topology, one login per identity), listening on `host`."""
    secrets = folder / "broker-secrets"
    passwords = ensure_passwords(secrets, IDENTITIES)
    broker = prepare_private_rabbitmq(folder / "rabbitmq", free_port(), "", passwords)
    spec_epmd, spec_server = broker.port_mapper(), broker.server()
    env = dict(spec_server.env or {})
    port = broker.amqp_port
    if host != "127.0.0.1":
        port = 5672
        env["RABBITMQ_NODE_IP_ADDRESS"] = host
        env["RABBITMQ_NODE_PORT"] = str(port)
        conf = broker.folder / "rabbitmq.conf"
        lines = [
            f"listeners.tcp.default = {host}:{port}" if line.startswith("listeners.") else line
            for line in conf.read_text().splitlines()
        ]
        conf.write_text("\n".join(lines) + "\n")
    epmd = Proc("epmd", spec_epmd.argv, folder / "epmd.log", wrap=wrap)
    server = Proc("rabbitmq", spec_server.argv, folder / "rabbitmq.log", env, broker.folder, wrap)
    return RabbitMQ(epmd, server, host, port, secrets)


# ----------------------------------------------------------------------------- services


@dataclass
class Service:
    """One `ems serve <name> --instance i` process."""

    name: str
    instance: int
    port: int
    proc: Proc
    # Where the test reaches its HTTP port (another host's address under `ip netns`).
    host: str = "127.0.0.1"
    _client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=2))

    @property
    def label(self) -> str:
        return f"{self.name}-{self.instance}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def ready(self) -> bool:
        if not self.proc.running:
            return False
        try:
            response = await self._client.get(f"{self.url}/health/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def start(self, timeout: float = 30.0) -> float:
        self.proc.start()
        try:
            return await wait_until(self.ready, timeout, f"{self.label} ready")
        except AssertionError:
            raise AssertionError(f"{self.label} not ready:\n{self.proc.tail()}") from None

    async def metric(self, name: str) -> float:
        """The sum of a Prometheus counter's samples (0 when absent)."""
        text = (await self._client.get(f"{self.url}/metrics")).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    async def close(self) -> None:
        await self._client.aclose()


def ems_service(
    folder: Path,
    name: str,
    instance: int,
    env: dict[str, str],
    *,
    listen: str = "127.0.0.1",
    wrap: Sequence[str] = (),
) -> Service:
    # On a host of its own (a network namespace) a service keeps its usual port.
    port = free_port() if listen == "127.0.0.1" else service_spec(name).port + instance
    argv = [sys.executable, "-m", "ems.cli", "serve", name, "--port", str(port)]
    argv += ["--instance", str(instance)]
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EMS_")},
        "EMS_ENVIRONMENT": "test",
        "EMS_LOG_JSON": "true",
        "EMS_LOG_LEVEL": "WARNING",
        "EMS_HOST": listen,
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log = folder / f"{name}-{instance}.log"
    return Service(name, instance, port, Proc(name, argv, log, full_env, ROOT, wrap), listen)


def have_private_servers() -> str | None:
    """Why the private servers cannot run here, or None."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        return "PostgreSQL binaries are not installed"
    if not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        return "RabbitMQ is not installed"
    if shutil.which("epmd") is None:
        return "epmd is not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing"
    return None
