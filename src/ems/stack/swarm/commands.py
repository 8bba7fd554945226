"""`ems swarm up | down | status` (make swarm-up, make swarm-down)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from ems.common.registry import service_specs
from ems.stack.probes import StackError
from ems.stack.swarm import deploy, engine, images
from ems.stack.swarm.secrets import ADMIN_PASSWORD_FILE, Logins, SecretFiles, write_secrets
from ems.stack.swarm.settings import SwarmSettings

# Where `up` leaves its figures (build times, sizes, time to healthy) for docs/results: the
# last run's, and the last run's that built everything from scratch (the base image too).
FIGURES_FILE = "up.json"
FROM_SCRATCH_FILE = "up-from-scratch.json"


def run(action: str) -> int:
    settings = SwarmSettings()
    try:
        if action == "up":
            up(settings)
        elif action == "down":
            down(settings)
        else:
            status(settings)
    except StackError as exc:
        print(f"ems swarm {action}: {exc}", file=sys.stderr)
        return 1
    return 0


def say(text: str) -> None:
    print(f"swarm | {text}", flush=True)


def repository_root() -> Path:
    """The checkout the stack file and Dockerfiles come from."""
    for root in (Path(__file__).resolve().parents[4], Path.cwd()):
        if (root / deploy.STACK_FILE).is_file():
            return root
    raise StackError(f"run this from the repository's root ({deploy.STACK_FILE} not found)")


def up(settings: SwarmSettings) -> None:
    started = time.monotonic()
    root = repository_root()
    folder = settings.folder
    folder.mkdir(parents=True, exist_ok=True)
    engine.install_engine(say)
    docker = engine.Docker(engine.find_cli(settings.swarm_docker))
    engine.ensure_engine(docker, folder, settings.swarm_nice, say)
    secrets_dir = folder / "secrets"
    _refuse_foreign_volumes(docker, secrets_dir)

    base = images.ensure_base(
        docker, folder, settings.swarm_debian_mirror, settings.swarm_nice, say
    )
    chosen = {
        "ems/postgres": settings.swarm_postgres_image,
        "ems/rabbitmq": settings.swarm_rabbitmq_image,
    }
    built = {
        image.name: images.build(docker, root, image, folder, say)
        for image in images.IMAGES
        if not chosen.get(image.name)
    }
    tags = {name: b.tag for name, b in built.items()} | {
        name: image for name, image in chosen.items() if image
    }
    build_seconds = time.monotonic() - started

    engine.ensure_swarm(docker, folder, say)
    logins = write_secrets(
        secrets_dir,
        service_specs(),
        settings.admin_username,
        settings.admin_password,
        settings.meter_password,
    )
    versions = (SecretFiles(secrets_dir).version(), deploy.configs_version(root))
    say(f"deploying stack {deploy.STACK} ({root / deploy.STACK_FILE})")
    deployed = time.monotonic()
    deploy.deploy(docker, root, _stack_environment(settings, tags, secrets_dir, versions))
    healthy = deploy.wait_healthy(
        docker, settings.swarm_http_port, settings.swarm_ready_timeout, say
    )
    deploy.prune_versions(docker, *versions)
    total = time.monotonic() - started
    _write_figures(folder, base, built, build_seconds, healthy, total, deployed - started)
    _announce(settings, logins, healthy, total)


def _stack_environment(
    settings: SwarmSettings, tags: dict[str, str], secrets_dir: Path, versions: tuple[str, str]
) -> dict[str, str]:
    """The variables deploy/swarm/stack.yaml names."""
    return {
        "EMS_SWARM_IMAGE": tags["ems/app"],
        "EMS_SWARM_POSTGRES_IMAGE": tags["ems/postgres"],
        "EMS_SWARM_RABBITMQ_IMAGE": tags["ems/rabbitmq"],
        "EMS_SWARM_HTTP_PORT": str(settings.swarm_http_port),
        "EMS_SWARM_AMQP_PORT": str(settings.swarm_amqp_port),
        "EMS_ADMIN_USERNAME": settings.admin_username,
        "EMS_SWARM_MONITORING_REPLICAS": str(settings.swarm_monitoring_replicas),
        "EMS_SWARM_REALTIME_REPLICAS": str(settings.swarm_realtime_replicas),
        "EMS_SWARM_SECRETS_DIR": str(secrets_dir),
        "EMS_SWARM_SECRETS_VERSION": versions[0],
        "EMS_SWARM_CONFIGS_VERSION": versions[1],
    }


def down(settings: SwarmSettings) -> None:
    docker = engine.Docker(engine.find_cli(settings.swarm_docker))
    folder = settings.folder
    if docker.ok("info"):
        if docker.out("info", "--format", "{{.Swarm.LocalNodeState}}") == "active":
            deploy.remove(docker, settings.swarm_purge, say)
        else:
            say("not in a swarm: no stack to remove")
            if settings.swarm_purge:
                deploy.remove_volumes(docker, say)
    elif settings.swarm_purge:
        say("no Docker engine answers: the stack's volumes, if any, were not deleted")
    if settings.swarm_purge:
        secrets_dir = folder / "secrets"
        for path in secrets_dir.glob("*"):
            path.unlink()
        if secrets_dir.is_dir():
            secrets_dir.rmdir()
            say(f"deleted the secrets in {secrets_dir}")
    engine.release_engine(docker, folder, say)


def _refuse_foreign_volumes(docker: engine.Docker, secrets_dir: Path) -> None:
    """The databases' volumes hold the passwords they were made with: deploying with newly
    generated ones would lock every service out of its database."""
    volumes = deploy.volumes(docker)
    if volumes and not any(secrets_dir.glob("db_password_*")):
        raise StackError(
            f"volumes of an earlier deployment exist ({', '.join(volumes)}) but their "
            f"passwords are not in {secrets_dir}: use the data folder (EMS_DATA_DIR) they "
            "were made with, or delete them (EMS_SWARM_PURGE=1 make swarm-down)"
        )


def status(settings: SwarmSettings) -> None:
    docker = engine.Docker(engine.find_cli(settings.swarm_docker))
    if not docker.ok("info"):
        say("no Docker engine answers")
        return
    for state in deploy.service_states(docker):
        mark = "ok" if state.ready else "waiting"
        say(f"{state.name:<14} {state.healthy}/{state.desired} healthy  {mark}")


def _write_figures(
    folder: Path,
    base: images.Built,
    built: dict[str, images.Built],
    build_seconds: float,
    healthy_seconds: float,
    total_seconds: float,
    deploy_at: float,
) -> None:
    figures: dict[str, Any] = {
        "base": {
            "image": base.name,
            "size_bytes": base.size_bytes,
            "seconds": base.seconds,
            "reused": base.reused,
        },
        "images": {
            name: {"tag": b.tag, "size_bytes": b.size_bytes, "seconds": b.seconds}
            for name, b in built.items()
        },
        "build_seconds": build_seconds,
        "deploy_at_seconds": deploy_at,
        "deploy_to_healthy_seconds": healthy_seconds,
        "up_seconds": total_seconds,
    }
    text = json.dumps(figures, indent=2) + "\n"
    (folder / FIGURES_FILE).write_text(text)
    if not base.reused:
        (folder / FROM_SCRATCH_FILE).write_text(text)


def _announce(settings: SwarmSettings, logins: Logins, healthy: float, total: float) -> None:
    url = f"http://localhost:{settings.swarm_http_port}"
    amqp = f"amqp://meter:{logins.meter_password}@localhost:{settings.swarm_amqp_port}/ems"
    for line in (
        "",
        f"EMS is running on Docker Swarm at {url} "
        f"(healthy {healthy:.0f} s after the deploy, {total:.0f} s in all)",
        f"admin login: {logins.admin_username} / {logins.admin_password} "
        f"(saved in {logins.folder / ADMIN_PASSWORD_FILE})",
        f"meters: {amqp}, exchange ems.data, routing key device.<device id>.reading",
        f"scale: docker service scale {deploy.STACK}_monitoring=3; stop: make swarm-down",
        "",
    ):
        say(line)
