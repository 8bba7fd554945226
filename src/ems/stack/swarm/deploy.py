"""The stack: `docker stack deploy` of deploy/swarm/stack.yaml, waiting until it is healthy,
and removing it."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ems.stack.probes import StackError
from ems.stack.swarm.engine import Docker, Say

STACK = "ems"
STACK_FILE = Path("deploy/swarm/stack.yaml")
# Files the stack mounts as Swarm configs (their digest names them, like the secrets).
CONFIG_FILES = (
    Path("deploy/rabbitmq/rabbitmq.conf"),
    Path("deploy/swarm/rabbitmq.conf"),
    Path("deploy/rabbitmq/enabled_plugins"),
)
_NAMESPACE = f"label=com.docker.stack.namespace={STACK}"


@dataclass(frozen=True)
class ServiceState:
    name: str
    desired: int
    healthy: int

    @property
    def ready(self) -> bool:
        return self.healthy >= self.desired


def configs_version(root: Path) -> str:
    digest = hashlib.sha256()
    for path in CONFIG_FILES:
        digest.update(str(path).encode() + b"\0" + (root / path).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def deploy(docker: Docker, root: Path, env: Mapping[str, str]) -> None:
    docker.run(
        "stack", "deploy", "--resolve-image", "never", "--prune",
        "-c", str(root / STACK_FILE), STACK,
        env=env,
    )  # fmt: skip


def service_states(docker: Docker) -> list[ServiceState]:
    """Each service of the stack: replicas wanted, and healthy tasks on its current image.

    A container counts when Docker's health check passes (or the service has none and it
    runs) and it runs the image the service now wants: during a rolling update the old
    tasks do not count."""
    services = _inspect_all(docker, "service", "service", "ls", "-q", "--filter", _NAMESPACE)
    containers = _inspect_all(docker, "container", "ps", "-q", "--filter", _NAMESPACE)
    states = []
    for service in services:
        spec = service["Spec"]
        name = spec["Name"]
        image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
        desired = int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 1))
        healthy = sum(
            1
            for c in containers
            if c["Config"]["Labels"].get("com.docker.swarm.service.name") == name
            and c["Config"]["Image"] == image
            and c["State"]["Running"]
            and c["State"].get("Health", {}).get("Status", "healthy") == "healthy"
        )
        states.append(ServiceState(name.removeprefix(f"{STACK}_"), desired, healthy))
    return sorted(states, key=lambda s: s.name)


def _inspect_all(docker: Docker, kind: str, *listing: str) -> list[dict[str, Any]]:
    ids = docker.lines(*listing)
    if not ids:
        return []
    # Something may go away between the listing and the inspection: take what remains.
    result = docker.run(kind, "inspect", *ids, check=False)
    found: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return found


def gateway_answers(port: int) -> bool:
    """The web app and, through forward routing, the auth service answer on the gateway."""
    try:
        with httpx.Client(timeout=5.0) as client:
            return all(
                client.get(f"http://127.0.0.1:{port}{path}").status_code == 200
                for path in ("/", "/api/auth/jwks.json")
            )
    except httpx.HTTPError:
        return False


def wait_healthy(docker: Docker, http_port: int, timeout: float, say: Say) -> float:
    """Seconds until every service is healthy and the gateway answers."""
    started = time.monotonic()
    last_report = 0.0
    while True:
        states = service_states(docker)
        waiting = [s for s in states if not s.ready]
        if states and not waiting and gateway_answers(http_port):
            return time.monotonic() - started
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise StackError(
                f"not healthy after {timeout:.0f} s: {_describe(waiting) or 'the gateway'}; "
                f"see `docker service ps {STACK}_<service>` and `docker service logs`"
            )
        if elapsed - last_report >= 15:
            say(f"waiting ({elapsed:.0f} s): {_describe(waiting) or 'the gateway'}")
            last_report = elapsed
        time.sleep(2)


def _describe(states: list[ServiceState]) -> str:
    return ", ".join(f"{s.name} {s.healthy}/{s.desired}" for s in states)


def prune_versions(docker: Docker, secrets_version: str, configs_version: str) -> None:
    """Remove the stack's secrets and configs of earlier versions that nothing uses now."""
    for kind, version in (("secret", secrets_version), ("config", configs_version)):
        for name in docker.lines(kind, "ls", "--filter", _NAMESPACE, "--format", "{{.Name}}"):
            if not name.endswith(f"_{version}"):
                docker.run(kind, "rm", name, check=False)


def remove(docker: Docker, purge: bool, say: Say) -> None:
    """`docker stack rm`, waiting until its containers and network are gone."""
    if docker.lines("stack", "ls", "--format", "{{.Name}}").count(STACK):
        docker.run("stack", "rm", STACK)
        say(f"removing stack {STACK}")
    deadline = time.monotonic() + 180
    while docker.lines("ps", "-a", "-q", "--filter", _NAMESPACE) or docker.lines(
        "network", "ls", "-q", "--filter", _NAMESPACE
    ):
        if time.monotonic() > deadline:
            raise StackError(f"stack {STACK} still has containers or networks after 180 s")
        time.sleep(1)
    if purge:
        remove_volumes(docker, say)


def volumes(docker: Docker) -> list[str]:
    return docker.lines("volume", "ls", "-q", "--filter", _NAMESPACE)


def remove_volumes(docker: Docker, say: Say) -> None:
    found = volumes(docker)
    if found:
        docker.run("volume", "rm", *found)
        say(f"deleted volumes: {' '.join(found)}")
