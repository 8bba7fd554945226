"""Render the gateway's nginx.conf for the container deployments.

Run while the image is built: `python deploy/gateway.py [--swarm] OUTPUT`. The routes come
from the services registered in the image (`ems.gateway.nginx`, the same renderer `ems up`
uses); only the addresses differ:

- Compose (deploy/compose.yaml): every replica is a container of its own, named `<service>`
  when the service has one replica and `<service>-<i>` when it has several, and it listens
  on the spec's port + i, as `ems serve --instance i` does.
- Swarm (deploy/swarm/stack.yaml): every service is one name, `<service>`, whatever its
  number of replicas, all listening on the spec's port; nginx asks Docker's DNS for it
  while serving, so a replaced task or a rescaled service needs no gateway restart.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from ems.common.credentials import GATEWAY
from ems.common.registry import ServiceSpec, service_specs
from ems.gateway.nginx import GatewayConfig, Upstream, render, upstreams_from_specs

LISTEN_PORT = 8080
RUN_DIR = Path("/var/lib/ems/gateway")
LOG_DIR = Path("/var/log/ems-gateway")
STATIC_ROOT = Path("/opt/ems/web")
# What the shared renderer writes for every replica; each is then given its container's name.
_RENDERED_HOST = "127.0.0.1"
# Docker's embedded DNS server, in every container on a user-defined network.
DOCKER_DNS = "127.0.0.11"


def container_name(spec: ServiceSpec, instance: int) -> str:
    """The compose service (and DNS name) of one replica."""
    return spec.name if spec.replicas == 1 else f"{spec.name}-{instance}"


def container_port(spec: ServiceSpec, instance: int) -> int:
    return spec.port + instance


def _config(services: tuple[Upstream, ...]) -> GatewayConfig:
    # The gateway's service secret (`ems service-secret gateway`), sent to auth's forward-auth
    # check: rendered where it is known (at container start), and the file must stay private.
    secret = os.environ.get("EMS_SERVICE_SECRET")
    return GatewayConfig(
        listen_host="0.0.0.0",  # noqa: S104 - inside the container; Docker publishes it
        listen_port=LISTEN_PORT,
        run_dir=RUN_DIR,
        log_dir=LOG_DIR,
        static_root=STATIC_ROOT,
        services=services,
        service_credential=f"{GATEWAY}:{secret}" if secret else None,
    )


def render_for_compose(specs: list[ServiceSpec]) -> str:
    services = upstreams_from_specs(specs, container_port)
    text = render(replace(_config(services), upstream_host=_RENDERED_HOST))
    # Every replica has a port no other replica has, so its server line is unique.
    for spec in specs:
        if not spec.routes:
            continue
        for instance in range(spec.replicas):
            port = container_port(spec, instance)
            line = f"server {_RENDERED_HOST}:{port} "
            if text.count(line) != 1:
                raise ValueError(f"{spec.name}-{instance}: expected one `{line.strip()}` line")
            text = text.replace(line, f"server {container_name(spec, instance)}:{port} ")
    return text


def render_for_swarm(specs: list[ServiceSpec]) -> str:
    # One address per service, whatever its replicas: its name answers with every task.
    services = tuple(Upstream(s.name, (s.port,), s.routes, s.api_prefix) for s in specs if s.routes)
    return render(replace(_config(services), resolver=DOCKER_DNS))


def main(argv: list[str]) -> int:
    swarm = argv[:1] == ["--swarm"]
    args = argv[1:] if swarm else argv
    if len(args) != 1:
        print("usage: gateway.py [--swarm] OUTPUT", file=sys.stderr)
        return 2
    renderer = render_for_swarm if swarm else render_for_compose
    Path(args[0]).write_text(renderer(service_specs()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
