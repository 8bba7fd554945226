"""deploy/swarm/stack.yaml checked without a Docker engine, against what `ems swarm up`
writes and the service specs: its secrets, commands, settings, databases, replicas,
published ports and gateway agree; the entry point and health check scripts do what the
stack relies on. (`make swarm-test` runs it for real.)"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ems.common.messaging.credentials import rabbitmq_password_hash
from ems.common.messaging.topology import METER
from ems.common.registry import ServiceSpec, service_spec, service_specs
from ems.stack.swarm.secrets import METER_PASSWORD_FILE, write_secrets
from tests.deploy.compose import (
    ROOT,
    STACK_FILE,
    Container,
    MissingVariables,
    assert_production_settings,
    containers,
    deploy_gateway,
    interpolate,
    load,
    parse,
)

STACK_ENV = {
    "EMS_SWARM_IMAGE": "ems/app:0123456789ab",
    "EMS_SWARM_POSTGRES_IMAGE": "ems/postgres:0123456789ab",
    "EMS_SWARM_RABBITMQ_IMAGE": "ems/rabbitmq:0123456789ab",
    "EMS_SWARM_SECRETS_DIR": "/var/lib/ems-secrets",
    "EMS_SWARM_SECRETS_VERSION": "5ec7e7",
    "EMS_SWARM_CONFIGS_VERSION": "c0f1a9",
}
# What ems-entrypoint reads; not settings of any service.
ENTRYPOINT_VARIABLES = {"WAIT_FOR", "WAIT_SECONDS", "TASK_SLOT", "SECRETS_DIR"}
TOPOLOGY = json.loads((ROOT / "deploy" / "rabbitmq" / "definitions.json").read_text())


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return load(STACK_ENV, STACK_FILE)


@pytest.fixture(scope="module")
def ems_services(model: dict[str, Any]) -> dict[str, Container]:
    return {name: c for name, c in containers(model).items() if c.uses_ems_image}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The secrets folder as `ems swarm up` writes it."""
    folder = tmp_path_factory.mktemp("swarm") / "secrets"
    write_secrets(folder, service_specs(), "admin", None, None)
    return folder


def _secret_files(model: dict[str, Any]) -> dict[str, str]:
    """Each declared secret's file name in the secrets folder."""
    return {
        name: Path(secret["file"]).name
        for name, secret in model["secrets"].items()
        if secret["file"].startswith(STACK_ENV["EMS_SWARM_SECRETS_DIR"])
    }


def _mounted(container: Container, model: dict[str, Any], folder: Path) -> dict[str, str]:
    """What ems-entrypoint exports from the container's secrets: target -> value."""
    files = _secret_files(model)
    return {
        s["target"]: (folder / files[s["source"]]).read_text()
        for s in container.config.get("secrets", [])
        if s["target"].startswith("EMS_")
    }


def _serve_target(container: Container) -> ServiceSpec | None:
    for argv in container.ems_invocations():
        if argv[0] == "serve":
            return service_spec(parse(argv).service)
    return None


def test_images_and_secrets_come_from_outside_and_the_file_holds_no_secret() -> None:
    """If this fails, a password is committed in the stack file, or the stack can be
    deployed without the images or secrets `ems swarm up` provides."""
    with pytest.raises(MissingVariables) as missing:
        load({}, STACK_FILE)
    assert missing.value.names == set(STACK_ENV)
    text = STACK_FILE.read_text()
    for line in text.splitlines():
        if re.search(r"(PASSWORD|PASS|SECRET|API_KEY)\w*:\s*\S", line):
            assert "${" in line or "/run/secrets/" in line, f"a literal secret: {line.strip()}"
    assert "guest" not in interpolate(text, STACK_ENV)


def test_every_secret_the_stack_mounts_is_one_ems_swarm_up_writes(
    model: dict[str, Any], written: Path
) -> None:
    """If this fails, `docker stack deploy` stops at a secret file that does not exist, or
    a secret is written that no service receives."""
    files = _secret_files(model)
    assert set(files) == set(model["secrets"]), "a secret that is not a file of the folder"
    on_disk = {path.name for path in written.iterdir()}
    assert set(files.values()) <= on_disk
    # Every service's broker password is mounted; the meters' is for whoever runs them.
    assert on_disk - set(files.values()) == {METER_PASSWORD_FILE}
    for name, secret in model["secrets"].items():
        assert secret["name"].endswith(f"_{STACK_ENV['EMS_SWARM_SECRETS_VERSION']}"), name
    used = {s["source"] for c in model["services"].values() for s in c.get("secrets", [])}
    assert used == set(model["secrets"])
    for path in written.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"


def test_every_ems_service_runs_cli_commands_with_settings_it_reads_in_production(
    model: dict[str, Any],
    ems_services: dict[str, Container],
    written: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If this fails, a task crash-loops on Swarm: a command `ems` does not have, a setting
    its service ignores (a misspelt EMS_ name leaves a loopback default), or settings its
    production checks refuse once the secrets are exported."""
    for container in ems_services.values():
        # The gateway: nginx (after rendering its config with the gateway's credential).
        if any("nginx" in words[:2] for words in container.commands()):
            continue
        invocations = container.ems_invocations()
        assert invocations, f"{container.name} runs no ems command: {container.argv}"
        env = {
            key: value
            for key, value in container.environment.items()
            if key not in ENTRYPOINT_VARIABLES
        }
        env |= _mounted(container, model, written)
        for argv in invocations:
            assert_production_settings(container.name, argv, env, monkeypatch)


def test_each_service_with_a_database_has_its_own_postgres_and_waits_for_it(
    model: dict[str, Any], ems_services: dict[str, Container], written: Path
) -> None:
    """If this fails, two services share a database server, a service's URL points at a
    server with another database or password, or it starts before its database answers."""
    owners: dict[str, str] = {}
    for container in ems_services.values():
        spec = _serve_target(container)
        wait_for = container.environment.get("WAIT_FOR", "").split()
        if spec is None:
            continue
        assert "rabbitmq:5672" in wait_for, container.name
        if spec.migrations is None:
            continue
        url = urlsplit(_mounted(container, model, written)["EMS_PG_URL"])
        assert url.hostname is not None and url.port == 5432
        assert owners.setdefault(url.hostname, spec.name) == spec.name, f"{url.hostname} shared"
        assert f"{url.hostname}:5432" in wait_for, container.name
        assert ["migrate", spec.name] in container.ems_invocations(), container.name
        database = model["services"][url.hostname]
        assert database["environment"]["POSTGRES_DB"] == spec.load_settings_class().database_name
        [mounted] = database["secrets"]
        password_file = _secret_files(model)[mounted["source"]]
        assert url.password == (written / password_file).read_text()
        assert database["environment"]["POSTGRES_PASSWORD_FILE"] == (
            f"/run/secrets/{mounted['target']}"
        )
    assert set(owners.values()) == {spec.name for spec in service_specs() if spec.migrations}


def test_replicated_services_take_their_number_from_the_task_slot(
    model: dict[str, Any], ems_services: dict[str, Container]
) -> None:
    """If this fails, a service of the specs is missing from the stack, a replica listens
    where its health check or the gateway does not look, or every replica of monitoring
    announces itself as the same replica."""
    served: dict[str, Container] = {}
    for container in ems_services.values():
        spec = _serve_target(container)
        if spec is not None:
            served[spec.name] = container
            test = container.config["healthcheck"]["test"]
            assert test == ["CMD", "ems-healthcheck", str(spec.port)], container.name
    assert set(served) == {spec.name for spec in service_specs()}
    for spec in service_specs():
        container = served[spec.name]
        assert container.name == spec.name
        if spec.replicas > 1:
            assert int(container.config["deploy"]["replicas"]) == spec.replicas
            assert container.environment["TASK_SLOT"] == "{{.Task.Slot}}"
            assert container.environment["EMS_PORT"] == str(spec.port)


def test_only_the_gateway_and_the_broker_are_published(model: dict[str, Any]) -> None:
    """If this fails, a service's port is open to the network (its /internal routes answer
    without a token), or the gateway and AMQP are not where the README says."""
    published = {
        name: [(p["target"], int(p["published"]), p["mode"]) for p in config["ports"]]
        for name, config in model["services"].items()
        if config.get("ports")
    }
    assert published == {"gateway": [(8080, 8090, "host")], "rabbitmq": [(5672, 5673, "host")]}
    for name, config in model["services"].items():
        assert config["deploy"]["endpoint_mode"] == "dnsrr", name


def test_the_swarm_gateway_finds_every_routed_service_by_its_name(tmp_path: Path) -> None:
    """If this fails, the gateway sends a route to a name no service of the stack has, or
    resolves names only at start (a replaced task would need a gateway restart)."""
    gateway = deploy_gateway()
    conf = gateway.render_for_swarm(service_specs())
    assert "resolver 127.0.0.11 " in conf
    assert "upstream " not in conf
    addresses = dict(re.findall(r'map "" \$ems_(\w+) \{ default ([\w.:-]+); \}', conf))
    routed = {spec.name: spec for spec in service_specs() if spec.routes}
    assert set(addresses) == set(routed)
    model = load(STACK_ENV, STACK_FILE)
    for name, address in addresses.items():
        host, port = address.split(":")
        assert host in model["services"] and int(port) == routed[name].port
    targets = set(re.findall(r"proxy_pass http://([^;/]+)", conf))
    assert targets == {f"$ems_{name}" for name in addresses}

    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if nginx is None:
        pytest.skip("needs nginx")
    for folder in (gateway.RUN_DIR, gateway.LOG_DIR, gateway.STATIC_ROOT):
        conf = conf.replace(str(folder), str(tmp_path / folder.name))
        (tmp_path / folder.name).mkdir(exist_ok=True)
    (tmp_path / "nginx.conf").write_text(conf)
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_the_broker_definitions_let_the_meter_only_publish_readings(
    written: Path, tmp_path: Path
) -> None:
    """If this fails, a meter's login can read queues, declare things or publish events on
    ems.sync / ems.ws; a service logs in as a user the broker does not know; a password hash
    RabbitMQ cannot check; or every `up` rewrites the definitions with a new salt and rolls
    the whole stack."""
    definitions = json.loads((written / "broker_definitions").read_text())
    for key in ("vhosts", "exchanges", "queues", "bindings"):
        assert definitions[key] == TOPOLOGY[key]
    users = {u["name"] for u in definitions["users"]}
    assert users == {spec.name for spec in service_specs()} | {METER}
    meter = [p for p in definitions["permissions"] if p["user"] == METER]
    assert meter == [
        {"user": METER, "vhost": "ems", "configure": "^$", "write": r"^(ems\.data)$",
         "read": "^$"}
    ]  # fmt: skip
    [topic] = [t for t in definitions["topic_permissions"] if t["user"] == METER]
    assert (topic["exchange"], topic["read"]) == ("ems.data", "^$")
    assert re.fullmatch(topic["write"], "device.0d4c.reading")
    assert not re.fullmatch(topic["write"], "device.0d4c.reading.extra")
    # RabbitMQ's own example (docs: passwords, "computing a password hash").
    assert rabbitmq_password_hash("test12", bytes.fromhex("908DC60A")) == (
        "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
    )
    again = tmp_path / "secrets"
    shutil.copytree(written, again)
    before = (again / "broker_definitions").read_text()
    write_secrets(again, service_specs(), "admin", None, None)
    assert (again / "broker_definitions").read_text() == before
    write_secrets(again, service_specs(), "admin", None, "a-new-meter-Secret")
    changed = json.loads((again / "broker_definitions").read_text())
    hashes = {u["name"]: u["password_hash"] for u in changed["users"]}
    salt = base64.b64decode(hashes[METER])[:4]
    assert hashes[METER] == rabbitmq_password_hash("a-new-meter-Secret", salt)


def test_the_entrypoint_exports_secrets_and_the_slot_and_waits(tmp_path: Path) -> None:
    """If this fails, a task under Swarm starts without its database or broker URL, every
    monitoring replica takes instance 0 (all announced as one replica to the balancer), or a
    service
    starts before what it waits for answers."""
    (tmp_path / "EMS_PG_URL").write_text("postgresql://ems:s3cret@authdb:5432\n")
    (tmp_path / "db-password").write_text("not a setting")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = subprocess.run(
            ["bash", str(ROOT / "deploy" / "entrypoint.sh"), "env"],
            env={
                "PATH": os.environ["PATH"],
                "SECRETS_DIR": str(tmp_path),
                "TASK_SLOT": "3",
                "WAIT_FOR": f"127.0.0.1:{port}",
                "WAIT_SECONDS": "20",
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert env["EMS_PG_URL"] == "postgresql://ems:s3cret@authdb:5432"
    assert env["EMS_INSTANCE"] == "2"
    assert "db-password" not in result.stdout and "did not answer" not in result.stderr


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(503 if self.path == "/health/ready-not" else self.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_the_health_check_passes_on_200_only(health_server: int) -> None:
    """If this fails, Swarm routes to a task that is not ready, or replaces a healthy one."""
    script = str(ROOT / "deploy" / "healthcheck.sh")

    def check(*args: str) -> int:
        return subprocess.run(["bash", script, *args], capture_output=True, timeout=30).returncode

    assert check(str(health_server)) == 0
    assert check(str(health_server), "/health/ready-not") != 0
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    assert check(str(closed)) != 0


def test_docker_compose_accepts_the_stack_file_when_it_is_installed() -> None:
    """If this fails, the stack file breaks the Compose file format (a key in the wrong
    place), which `docker stack deploy` refuses as well."""
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("no docker-compose here")
    result = subprocess.run(
        [compose, "-f", str(STACK_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **STACK_ENV},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
