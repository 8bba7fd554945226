"""Rendering the gateway config from the services' routes: mistakes caught before nginx."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.common.registry import Route
from ems.gateway.nginx import GatewayConfig, Upstream, render


def _config(*services: Upstream) -> GatewayConfig:
    return GatewayConfig(
        listen_host="127.0.0.1",
        listen_port=8080,
        run_dir=Path("/tmp/run"),
        log_dir=Path("/tmp/logs"),
        static_root=Path("/tmp/static"),
        services=services,
    )


AUTH = Upstream("auth", (8101,), (Route("/api/auth/", "public"),))


def test_two_services_claiming_one_prefix_are_refused() -> None:
    """Else nginx refuses to start, naming neither service."""
    clash = Upstream("users", (8102,), (Route("/api/auth/", "public"),))
    with pytest.raises(ValueError, match="users"):
        render(_config(AUTH, clash))


def test_the_gateway_needs_the_auth_service() -> None:
    """Else nginx would be configured to check tokens with a service that is not there."""
    orphan = Upstream("users", (8102,), (Route("/api/users/", "authenticated"),))
    with pytest.raises(ValueError, match="auth"):
        render(_config(orphan))


def test_prefix_must_be_a_path() -> None:
    """Else a route could take over `/`, which belongs to the web app."""
    for prefix in ("/", "api/x/"):
        with pytest.raises(ValueError, match="prefix"):
            render(_config(AUTH, Upstream("x", (1,), (Route(prefix, "public"),))))


def test_every_replica_is_an_upstream_server() -> None:
    """Else replicas beyond the first never get traffic."""
    monitoring = Upstream("monitoring", (8104, 8105), (Route("/api/consumption/", "public"),))
    conf = render(_config(AUTH, monitoring))
    assert "server 127.0.0.1:8104 " in conf
    assert "server 127.0.0.1:8105 " in conf
