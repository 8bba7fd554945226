"""Render the gateway's nginx.conf for the container deployment (deploy/compose.yaml).

Run while the image is built: `python deploy/gateway.py /etc/ems/nginx.conf`. The routes come
from the services registered in the image (`ems.gateway.nginx`, the same renderer `ems up`
uses); only the addresses differ: in compose every replica is a container of its own, named
`<service>` when the service has one replica and `<service>-<i>` when it has several, and it
listens on the spec's port + i, as `ems serve --instance i` does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ems.common.credentials import GATEWAY
from ems.common.registry import ServiceSpec, service_specs
from ems.gateway.nginx import GatewayConfig, render, upstreams_from_specs

LISTEN_PORT = 8080
RUN_DIR = Path("/var/lib/ems/gateway")
LOG_DIR = Path("/var/log/ems-gateway")
STATIC_ROOT = Path("/opt/ems/web")
# What the shared renderer writes for every replica; each is then given its container's name.
_RENDERED_HOST = "127.0.0.1"


def container_name(spec: ServiceSpec, instance: int) -> str:
    """The compose service (and DNS name) of one replica."""
    return spec.name if spec.replicas == 1 else f"{spec.name}-{instance}"


def container_port(spec: ServiceSpec, instance: int) -> int:
    return spec.port + instance


def render_for_compose(specs: list[ServiceSpec], secret: str | None = None) -> str:
    """`secret`: the gateway's service secret (`ems service-secret gateway`), sent to auth's
    forward-auth check; the rendered file then holds it and must stay private."""
    config = GatewayConfig(
        listen_host="0.0.0.0",  # noqa: S104 - inside the container; compose publishes it
        listen_port=LISTEN_PORT,
        run_dir=RUN_DIR,
        log_dir=LOG_DIR,
        static_root=STATIC_ROOT,
        services=upstreams_from_specs(specs, container_port),
        upstream_host=_RENDERED_HOST,
        service_credential=f"{GATEWAY}:{secret}" if secret else None,
    )
    text = render(config)
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


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: gateway.py OUTPUT", file=sys.stderr)
        return 2
    # Rendered where the secret is known (at container start, from EMS_SERVICE_SECRET).
    secret = os.environ.get("EMS_SERVICE_SECRET")
    Path(argv[0]).write_text(render_for_compose(service_specs(), secret))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
