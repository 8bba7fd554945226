"""deploy/compose.yaml checked without a Docker engine: it parses, its secrets come from the
environment, every container runs a command the `ems` CLI has with settings its service
reads, and its replicas, databases, health checks and gateway agree with the service specs."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest

from ems.common.messaging.topology import IDENTITIES, METER
from ems.common.registry import ServiceSpec, service_spec, service_specs
from tests.deploy.compose import (
    COMPOSE_FILE,
    ROOT,
    Container,
    MissingVariables,
    assert_production_settings,
    containers,
    deploy_gateway,
    interpolate,
    load,
    parse,
)

SECRETS = {
    "EMS_DB_PASSWORD": "db-Secret-4b1f",
    "EMS_RABBITMQ_PASSWORD": "mq-Secret-9c2e",
    "EMS_ADMIN_PASSWORD": "admin-Secret-77d0",
    "EMS_SERVICE_MASTER_KEY": "master-Secret-51aa",
    **{
        f"EMS_{name.upper()}_SERVICE_SECRET": f"{name}-Secret-0c3d"
        for name in ("users", "devices", "monitoring", "support", "realtime", "gateway")
    },
    **{f"EMS_BROKER_PASSWORD_{name.upper()}": f"{name}-Broker-7e21" for name in IDENTITIES},
}


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return load(SECRETS)


@pytest.fixture(scope="module")
def ems_containers(model: dict[str, Any]) -> dict[str, Container]:
    return {name: c for name, c in containers(model).items() if c.uses_ems_image}


def _serve_target(container: Container) -> tuple[ServiceSpec, int] | None:
    for argv in container.ems_invocations():
        if argv[0] == "serve":
            args = parse(argv)
            return service_spec(args.service), args.instance or 0
    return None


def test_every_secret_comes_from_the_environment_and_none_is_in_the_file() -> None:
    """If this fails, a password is committed to the repository (the seeds' mistake), or a
    deployment can start with a secret left empty."""
    with pytest.raises(MissingVariables) as missing:
        load({})
    assert missing.value.names == set(SECRETS)
    text = COMPOSE_FILE.read_text()
    for line in text.splitlines():
        if re.search(r"(PASSWORD|PASS|SECRET|API_KEY)\w*:\s*\S", line):
            assert "${" in line or "*" in line, f"a literal secret: {line.strip()}"
    assert "guest" not in interpolate(text, SECRETS).replace("loopback_users.guest", "")


def test_every_ems_container_runs_a_command_the_cli_has(
    ems_containers: dict[str, Container],
) -> None:
    """If this fails, a container starts a command `ems` does not have (a typo, a renamed
    service) and would crash-loop on the Docker host, where we cannot see it here."""
    assert ems_containers, "no container uses the EMS image"
    for container in ems_containers.values():
        # The gateway: nginx (after rendering its config with the gateway's credential).
        if any("nginx" in words[:2] for words in container.commands()):
            continue
        invocations = container.ems_invocations()
        assert invocations, f"{container.name} runs no ems command: {container.argv}"
        for argv in invocations:
            parse(argv)


def test_every_setting_passed_is_one_the_service_reads_and_validates(
    ems_containers: dict[str, Container], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, compose passes a setting the service ignores (a misspelt EMS_ name
    silently leaves the default: loopback URLs, no replicas), or one its settings class
    refuses in production (a placeholder secret, an empty number)."""

    for container in ems_containers.values():
        for argv in container.ems_invocations():
            assert_production_settings(container.name, argv, container.environment, monkeypatch)


def test_each_service_with_a_database_has_its_own_postgres(
    model: dict[str, Any], ems_containers: dict[str, Container], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, two services share a database server (no service may read another's
    tables), or a service points at a server whose database has another name."""
    owners: dict[str, str] = {}
    for container in ems_containers.values():
        target = _serve_target(container)
        if target is None or target[0].migrations is None:
            continue
        spec = target[0]
        host = urlsplit(container.environment["EMS_PG_URL"]).hostname
        assert host is not None
        assert owners.setdefault(host, spec.name) == spec.name, f"{host} shared"
        database = model["services"][host]["environment"]["POSTGRES_DB"]
        assert database == spec.load_settings_class().database_name
    wanted = {spec.name for spec in service_specs() if spec.migrations}
    assert set(owners.values()) == wanted


def test_replicas_and_ports_agree_with_the_specs_and_the_balancer(
    model: dict[str, Any], ems_containers: dict[str, Container]
) -> None:
    """If this fails, a replica listens where the gateway or its health check does not look,
    or two replicas announce themselves to the balancer as one."""
    instances: dict[str, list[int]] = {}
    for container in ems_containers.values():
        target = _serve_target(container)
        if target is None:
            continue
        spec, instance = target
        instances.setdefault(spec.name, []).append(instance)
        port = spec.port + instance
        test = " ".join(container.config["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/health/ready" in test, f"{container.name} health check"
        expected_name = spec.name if spec.replicas == 1 else f"{spec.name}-{instance}"
        assert container.name == expected_name
    for spec in service_specs():
        assert sorted(instances.get(spec.name, [])) == list(range(spec.replicas)), spec.name
    assert len(instances["monitoring"]) >= 2 and len(instances["realtime"]) >= 2


def test_every_process_logs_in_to_the_broker_as_itself(
    ems_containers: dict[str, Container],
) -> None:
    """If this fails, two services share a broker login (a stolen password of one is a
    password to both), or a service starts without one (production refuses to)."""
    for container in ems_containers.values():
        for argv in container.ems_invocations():
            if argv[0] in {"serve", "simulate"}:
                args = parse(argv)
                identity = args.service if argv[0] == "serve" else METER
                expected = SECRETS[f"EMS_BROKER_PASSWORD_{identity.upper()}"]
                assert container.environment["EMS_BROKER_PASSWORD"] == expected, container.name


def test_long_running_containers_have_health_checks_and_dependencies_exist(
    model: dict[str, Any],
) -> None:
    """If this fails, compose starts a service before what it needs is healthy, or a
    dependency names a container that does not exist."""
    services = model["services"]
    for name, config in services.items():
        one_shot = config.get("restart") == "on-failure"
        # Optional extras (the demo simulator) serve no HTTP and nothing waits for them.
        if not one_shot and not config.get("profiles"):
            assert "healthcheck" in config, f"{name} has no health check"
        for dependency, condition in config.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            wanted = condition["condition"]
            dep_one_shot = services[dependency].get("restart") == "on-failure"
            expected = "service_completed_successfully" if dep_one_shot else "service_healthy"
            assert wanted == expected, f"{name} -> {dependency}"


def test_the_gateway_config_routes_to_the_compose_containers() -> None:
    """If this fails, the gateway in the image sends a route to a host or port where no
    container listens."""
    model = load(SECRETS)
    gateway = deploy_gateway()
    conf = gateway.render_for_compose(service_specs())
    servers = re.findall(r"server ([\w.-]+):(\d+) ", conf)
    assert servers
    for host, port in servers:
        container = Container(host, model["services"][host])
        target = _serve_target(container)
        assert target is not None, host
        spec, instance = target
        assert int(port) == spec.port + instance
    routed = {spec.name for spec in service_specs() if spec.routes}
    assert {host.rsplit("-", 1)[0] if host[-1].isdigit() else host for host, _ in servers} == (
        routed
    )


def test_the_gateway_config_is_valid_nginx(tmp_path: Any) -> None:
    """If this fails, the gateway container would exit at start with a config error.

    nginx resolves upstream names when it loads a config, so it runs in a private mount
    namespace where /etc/hosts names every container."""
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    unshare = shutil.which("unshare")
    if nginx is None or unshare is None:
        pytest.skip("needs nginx and unshare")
    gateway = deploy_gateway()
    conf = gateway.render_for_compose(service_specs())
    for folder in (gateway.RUN_DIR, gateway.LOG_DIR, gateway.STATIC_ROOT):
        conf = conf.replace(str(folder), str(tmp_path / folder.name))
        (tmp_path / folder.name).mkdir(exist_ok=True)
    (tmp_path / "nginx.conf").write_text(conf)
    hosts = "127.0.0.1 localhost\n" + "".join(
        f"127.0.0.1 {name}\n" for name in sorted(set(re.findall(r"server ([\w.-]+):", conf)))
    )
    (tmp_path / "hosts").write_text(hosts)
    script = (
        f"mount --bind {tmp_path / 'hosts'} /etc/hosts && "
        f"{nginx} -t -e stderr -p {tmp_path} -c {tmp_path / 'nginx.conf'}"
    )
    result = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip("mount namespaces are not allowed here")
    assert result.returncode == 0, result.stderr


def test_docker_compose_accepts_the_file_when_it_is_installed() -> None:
    """If this fails, Docker Compose itself refuses the file (a key in the wrong place)."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, timeout=30)
        if probe.returncode != 0:
            continue
        import os

        result = subprocess.run(
            [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **SECRETS},
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr
        return
    pytest.skip("no docker compose here")
