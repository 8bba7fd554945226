"""`ems up`: start the platform, keep it running, stop it cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ems.auth.commands.first_admin import AdminLogin, ensure_admin
from ems.auth.settings import AuthSettings
from ems.common.credentials import derive_secret, gateway_credential, master_key
from ems.common.messaging.credentials import connection_url, ensure_passwords, vhost_of
from ems.common.messaging.provision import BrokerTools
from ems.common.messaging.topology import BALANCER, IDENTITIES
from ems.common.migrations import migrate_service
from ems.common.registry import RateLimit, ServiceSpec, service_specs
from ems.gateway.nginx import AUTH_SERVICE, placeholder_root, upstreams_from_specs
from ems.stack import demo as demo_seed
from ems.stack import gateway, postgres, rabbitmq
from ems.stack.probes import (
    StackError,
    host_and_port,
    http_ok,
    port_is_free,
    redact,
    tcp_answers,
    wait_until,
)
from ems.stack.processes import Child, ChildSpec, Output
from ems.stack.settings import StackSettings

# The runner's own lines carry this prefix, beside the children's names.
_NAME = "ems"


def run_stack(demo: bool) -> int:
    """Run the whole platform until Ctrl-C or SIGTERM; the exit code of `ems up`."""
    settings = StackSettings()
    try:
        asyncio.run(_run(settings, demo))
    except StackError as exc:
        print(f"ems up: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run(settings: StackSettings, demo: bool) -> None:
    stack = Stack(settings, Output())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(stack.start(demo))
    stopping = asyncio.create_task(stop.wait())
    try:
        # Ctrl-C during start-up stops what has started so far.
        done, _ = await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting in done:
            stack.announce(starting.result())
            await stopping
    finally:
        for task in (starting, stopping):
            task.cancel()
        await asyncio.gather(starting, stopping, return_exceptions=True)
        await stack.stop()


@dataclass(frozen=True)
class Endpoints:
    """The PostgreSQL server and the broker every service of this stack uses."""

    pg_url: str
    amqp_url: str


class Stack:
    def __init__(self, settings: StackSettings, output: Output) -> None:
        self.settings = settings
        self.output = output
        self.data_dir = settings.data_dir.resolve()
        self.specs = service_specs()
        # What has been started, one list per step; stopped in reverse, each list at once.
        self._layers: list[list[Child]] = []
        self._http = httpx.AsyncClient(timeout=2.0)
        self._started_at = time.monotonic()
        self.demo: demo_seed.DemoLogin | None = None
        # Every prefix as wide as the longest name, from the first line on.
        for spec in self.specs:
            output.reserve(f"{spec.name}-{spec.replicas - 1}")

    def port_of(self, spec: ServiceSpec, instance: int) -> int:
        return spec.port + instance + self.settings.port_offset

    @property
    def url(self) -> str:
        host = self.settings.http_host
        shown = "localhost" if host in {"127.0.0.1", "0.0.0.0", "localhost"} else host  # noqa: S104
        return f"http://{shown}:{self.settings.http_port}"

    async def start(self, demo: bool) -> AdminLogin | None:
        self._preflight()
        # The gateway's config first: a mistake in the routes shows before anything starts.
        conf = await self._configure_gateway()
        endpoints = await self.start_infrastructure()
        await self._migrate(endpoints)
        admin = await self._ensure_admin(endpoints)
        await self._start_services(endpoints)
        await self._start_gateway(conf)
        if demo:
            await self._start_demo(endpoints, admin)
        return admin

    async def start_infrastructure(self) -> Endpoints:
        """PostgreSQL and RabbitMQ: the configured ones when they answer, else private ones."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pg_url, amqp_url = await asyncio.gather(self._postgres(), self._rabbitmq())
        return Endpoints(pg_url, amqp_url)

    async def stop(self) -> None:
        if self._layers:
            self._say("stopping")
        for layer in reversed(self._layers):
            await asyncio.gather(*(child.stop(self.settings.stop_timeout) for child in layer))
        self._layers.clear()
        await self._http.aclose()

    def announce(self, admin: AdminLogin | None) -> None:
        elapsed = time.monotonic() - self._started_at
        lines = [
            "",
            f"EMS is running at {self.url} (started in {elapsed:.0f} s)",
            f"API docs: {self.url}/api/docs",
        ]
        if self.settings.tls_enabled:
            lines.append(f"HTTPS: https://localhost:{self.settings.https_port}")
        if admin is not None:
            lines.append(_admin_line(admin))
        if self.demo is not None:
            lines.append(demo_seed.demo_line(self.demo))
        lines += ["Ctrl-C stops everything.", ""]
        for line in lines:
            self._say(line)

    def _preflight(self) -> None:
        """What would make start-up fail late, checked before anything starts."""
        gateway.nginx_binary()
        s = self.settings
        wanted = [(s.http_host, s.http_port, "the gateway, EMS_HTTP_PORT")]
        wanted += [
            ("127.0.0.1", self.port_of(spec, i), f"{spec.name}-{i}")
            for spec in self.specs
            for i in range(spec.replicas)
        ]
        busy = [f"{port} ({what})" for host, port, what in wanted if not port_is_free(host, port)]
        if busy:
            raise StackError(
                f"ports already in use: {', '.join(busy)}. Is another `ems up` running? "
                "EMS_HTTP_PORT and EMS_PORT_OFFSET move this stack's ports."
            )

    async def _postgres(self) -> str:
        url = self.settings.pg_url
        host, port = host_and_port(url, 5432)
        if await tcp_answers(host, port):
            return self._configured("PostgreSQL", url, await postgres.login_problem(url))
        folder = self.data_dir / "pg"
        self._say(f"no PostgreSQL answers at {host}:{port}; starting a private one in {folder}")
        server = await postgres.prepare_private_postgres(folder, self.settings.private_pg_port)
        [child] = await self._start_layer(server.child())

        async def logs_in() -> bool:
            # Connect first: a login attempt on a closed port logs an error every time.
            return (
                await tcp_answers("127.0.0.1", server.port)
                and await postgres.login_problem(server.url) is None
            )

        await self._ready(logs_in, "PostgreSQL")
        self._say(f"PostgreSQL: private server at {server.url} (pid {child.pid})")
        return server.url

    async def _rabbitmq(self) -> str:
        """The broker, provisioned as strictly as production: each service its own login."""
        s = self.settings
        url = s.amqp_url
        host, port = host_and_port(url, 5672)
        passwords = ensure_passwords(s.secrets_dir(), IDENTITIES)
        if await tcp_answers(host, port):
            await self._provision_local(url, passwords)
            probe = connection_url(s, BALANCER)
            return self._configured("RabbitMQ", url, await rabbitmq.login_problem(probe))
        folder = self.data_dir / "rabbitmq"
        self._say(f"no RabbitMQ answers at {host}:{port}; starting a private one in {folder}")
        broker = rabbitmq.prepare_private_rabbitmq(
            folder, s.private_amqp_port, s.broker_user_prefix, passwords
        )
        await self._start_layer(broker.port_mapper())
        await self._start_layer(broker.server())
        probe = connection_url(s.model_copy(update={"amqp_url": broker.url}), BALANCER)

        async def logs_in() -> bool:
            return (
                await tcp_answers("127.0.0.1", broker.amqp_port)
                and await rabbitmq.login_problem(probe) is None
            )

        await self._ready(logs_in, "RabbitMQ")
        self._say(f"RabbitMQ: private broker at {redact(broker.url)} (pid {broker.server_pid()})")
        return broker.url

    async def _provision_local(self, url: str, passwords: dict[str, str]) -> None:
        """Users, permissions, topology and plugin on an existing local broker (as root)."""
        host, _ = host_and_port(url, 5672)
        why_not = BrokerTools.available()
        if host not in {"127.0.0.1", "localhost", "::1"} or why_not is not None:
            self._say(
                "cannot provision the broker's users here "
                f"({why_not or 'the broker is not local'}); when they are missing, run "
                "`sudo uv run ems broker provision` once (or point EMS_AMQP_URL at a "
                "provisioned broker)"
            )
            return
        vhost = vhost_of(url)
        await asyncio.to_thread(
            BrokerTools().provision, vhost, self.settings.broker_user_prefix, passwords
        )
        self._say(f"RabbitMQ: vhost {vhost!r} provisioned (users, permissions, topology)")

    def _configured(self, what: str, url: str, problem: str | None) -> str:
        # Something listens there: starting a second server beside it would only hide a
        # wrong URL or password, so that is an error to fix, not to work around.
        if problem is not None:
            raise StackError(f"{what} at {redact(url)} answers but refuses us: {problem}")
        self._say(f"{what}: using {redact(url)}")
        return url

    async def _migrate(self, endpoints: Endpoints) -> None:
        for spec in self.specs:
            if spec.migrations:
                settings = spec.load_settings_class()(**self._overrides(endpoints))
                self._say(f"migrating {spec.name} ({settings.full_database_name()})")
                await migrate_service(spec, settings)
        self._say(f"databases migrated ({self._elapsed()})")

    async def _ensure_admin(self, endpoints: Endpoints) -> AdminLogin | None:
        if not any(spec.name == AUTH_SERVICE for spec in self.specs):
            return None
        try:
            values = {**self._overrides(endpoints), **self._credential_of(AUTH_SERVICE)}
            return await ensure_admin(AuthSettings(**values))
        except ValueError as exc:
            raise StackError(str(exc)) from None

    async def _start_services(self, endpoints: Endpoints) -> None:
        env = {**os.environ, **self._environment(endpoints), "PYTHONUNBUFFERED": "1"}
        # Specs come sorted by order: each group is ready before the next one starts.
        for _, group in itertools.groupby(self.specs, key=lambda spec: spec.order):
            replicas = [(spec, i) for spec in group for i in range(spec.replicas)]
            await self._start_layer(*(self._serve(spec, i, env) for spec, i in replicas))
            await asyncio.gather(*(self._service_ready(spec, i) for spec, i in replicas))

    def _serve(self, spec: ServiceSpec, instance: int, env: dict[str, str]) -> ChildSpec:
        port = str(self.port_of(spec, instance))
        argv = ("-m", "ems.cli", "serve", spec.name, "--port", port, "--instance", str(instance))
        env = {**env, **_as_environment(self._credential_of(spec.name))}
        return ChildSpec(name=f"{spec.name}-{instance}", argv=(sys.executable, *argv), env=env)

    async def _service_ready(self, spec: ServiceSpec, instance: int) -> None:
        port = self.port_of(spec, instance)
        url = f"http://127.0.0.1:{port}/health/ready"
        name = f"{spec.name}-{instance}"
        await self._ready(lambda: http_ok(self._http, url), f"{name} ({url})")
        self._say(f"{name} is ready on port {port} ({self._elapsed()})")

    async def _start_demo(self, endpoints: Endpoints, admin: AdminLogin | None) -> None:
        s = self.settings
        if admin is None:
            return
        password = demo_seed.admin_password(admin, s.admin_password, self.data_dir)
        if password is None:
            self._say("demo skipped: the admin password is unknown (set EMS_ADMIN_PASSWORD)")
            return
        api_url = f"http://127.0.0.1:{s.http_port}"
        try:
            self.demo = await demo_seed.seed_demo(api_url, admin.username, password, self.data_dir)
        except httpx.HTTPError as exc:
            self._say(f"demo skipped: could not create the demo data ({exc})")
            return
        env = {**os.environ, **self._environment(endpoints), "PYTHONUNBUFFERED": "1"}
        await self._start_layer(demo_seed.simulator_child(env, api_url, admin.username, password))

    async def _configure_gateway(self) -> Path:
        s = self.settings
        root = gateway.static_root(s.web_dist)
        if root == placeholder_root():
            self._say(f"the web app is not built ({s.web_dist}): serving a placeholder page")
        services = upstreams_from_specs(self.specs, self.port_of)
        folder = self.data_dir / "gateway"
        try:
            conf = gateway.write_config(
                folder,
                s.http_host,
                s.http_port,
                root,
                services,
                credential=gateway_credential(self.master_key),
                tls=gateway.tls_config(s, self.data_dir),
                rate_limits={"signup": RateLimit(s.signup_per_minute, s.signup_burst)},
            )
        except ValueError as exc:
            raise StackError(f"cannot route the services: {exc}") from None
        await gateway.check_config(conf)
        return conf

    async def _start_gateway(self, conf: Path) -> None:
        s = self.settings
        await self._start_layer(gateway.gateway_child(conf))
        host = "127.0.0.1" if s.http_host == "0.0.0.0" else s.http_host  # noqa: S104
        url = f"http://{host}:{s.http_port}/"
        await self._ready(lambda: http_ok(self._http, url), f"the gateway ({url})")

    async def _start_layer(self, *specs: ChildSpec) -> list[Child]:
        """Start children that stop together (after every later layer has stopped)."""
        layer = [Child(spec, self.output) for spec in specs]
        self._layers.append(layer)
        for child in layer:
            try:
                await child.start()
            except OSError as exc:
                raise StackError(f"cannot start {child.name}: {exc}") from exc
        return layer

    async def _ready(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        await wait_until(check, timeout=self.settings.ready_timeout, what=what)

    def _credential_of(self, name: str) -> dict[str, Any]:
        """What one service needs beside the shared settings: its own service secret; for
        auth, the master key every secret derives from (ems.common.credentials)."""
        if name == AUTH_SERVICE:
            return {"service_master_key": self.master_key}
        return {"service_secret": derive_secret(self.master_key, name)}

    @property
    def master_key(self) -> str:
        # EMS_SERVICE_MASTER_KEY when set, else generated once under the data folder.
        return master_key(self.settings, AuthSettings().service_master_key)

    def _overrides(self, endpoints: Endpoints) -> dict[str, Any]:
        """Settings every service of this stack shares, whatever the environment says."""
        overrides: dict[str, Any] = {
            "pg_url": endpoints.pg_url,
            "amqp_url": endpoints.amqp_url,
            "db_prefix": self.settings.db_prefix,
            "data_dir": self.data_dir,
        }
        # Every service's loopback address under the name `<service>_internal_url`, the
        # convention services use to reach each other (auth's, users', devices' snapshots):
        # with a port offset the defaults would point at another stack, or nowhere.
        for spec in self.specs:
            overrides[f"{spec.name}_internal_url"] = f"http://127.0.0.1:{self.port_of(spec, 0)}"
        return overrides

    def _environment(self, endpoints: Endpoints) -> dict[str, str]:
        return _as_environment(self._overrides(endpoints))

    def _elapsed(self) -> str:
        return f"at {time.monotonic() - self._started_at:.1f} s"

    def _say(self, text: str) -> None:
        self.output.line(_NAME, text)


def _as_environment(settings: dict[str, Any]) -> dict[str, str]:
    return {f"EMS_{key.upper()}": str(value) for key, value in settings.items()}


def _admin_line(admin: AdminLogin) -> str:
    if admin.password is not None:
        saved = f" (also saved in {admin.stored_in})" if admin.stored_in else ""
        return f"admin login: {admin.username} / {admin.password}{saved}"
    if admin.stored_in is not None:
        return f"admin login: {admin.username}, password in {admin.stored_in}"
    return f"admin login: {admin.username}, with the password it was created with"
