"""The gateway's edge with the real nginx: HTTPS with HSTS from a certificate (here the
self-signed one `ems up` makes), the browser security headers on every answer, and the
per-address limit on registrations (429 with Retry-After)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ems.auth.spec import SPEC as AUTH_SPEC
from ems.common.registry import RateLimit
from ems.gateway.nginx import Tls, Upstream, placeholder_root
from ems.gateway.tls import self_signed_certificate
from ems.stack.gateway import gateway_child, write_config
from tests.gateway.fake_upstream import FakeUpstream
from tests.gateway.running import tail
from tests.platform.polling import eventually_blocking
from tests.platform.tcpproxy import free_port

SIGNUP_BURST = 2


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@dataclass
class Edge:
    http: str
    https: str
    cert: Path


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    folder = tmp_path_factory.mktemp("edge")
    upstream = FakeUpstream()
    upstream.start()
    cert, key = self_signed_certificate(folder / "tls")
    port, tls_port = free_port(), free_port()
    conf = write_config(
        folder,
        "127.0.0.1",
        port,
        placeholder_root(),
        (Upstream("auth", (upstream.port,), AUTH_SPEC.routes, AUTH_SPEC.api_prefix),),
        tls=Tls(tls_port, cert, key),
        rate_limits={"signup": RateLimit(per_minute=1, burst=SIGNUP_BURST)},
    )
    assert conf.stat().st_mode & 0o077 == 0, "the config holds a credential: owner only"
    log = folder / "nginx.log"
    with log.open("wb") as out:
        nginx = subprocess.Popen(
            gateway_child(conf).argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    edge = Edge(f"http://127.0.0.1:{port}", f"https://127.0.0.1:{tls_port}", cert)

    def answers() -> bool:
        try:
            return httpx.get(edge.https + "/", verify=_trusting(cert), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually_blocking(lambda: nginx.poll() is not None or answers(), timeout=20, what="nginx")
        assert nginx.poll() is None, f"nginx exited:\n{tail(log)}"
        yield edge
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)
        upstream.stop()


def test_https_is_served_with_hsts_and_the_certificate_is_checked(edge: Edge) -> None:
    """If this fails, the gateway cannot serve HTTPS from the configured certificate, or
    browsers are not told to keep to it (HSTS)."""
    secure = httpx.get(edge.https + "/", verify=_trusting(edge.cert))
    assert secure.status_code == 200
    assert secure.headers["strict-transport-security"].startswith("max-age=")
    # The certificate is the one configured (a client that trusts it alone gets in).
    with pytest.raises(httpx.ConnectError):
        httpx.get(edge.https + "/")
    # Plain HTTP from this machine keeps working (the runner's own probes), without HSTS.
    plain = httpx.get(edge.http + "/")
    assert plain.status_code == 200 and "strict-transport-security" not in plain.headers


def test_every_answer_carries_the_browser_security_headers(edge: Edge) -> None:
    """If this fails, the web app can be framed (clickjacking), types sniffed, referrers
    leaked, or scripts loaded from elsewhere."""
    for path in ("/", "/some/client/route", "/api/nothing-here", "/api/docs"):
        response = httpx.get(edge.https + path, verify=_trusting(edge.cert))
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_registrations_are_limited_per_address_with_retry_after(edge: Edge) -> None:
    """If this fails, one address can register (and make auth hash passwords) without
    limit: a flood that starves everyone."""
    statuses = []
    for _ in range(SIGNUP_BURST + 3):
        response = httpx.post(
            edge.http + "/api/auth/register", json={"username": "x", "password": "y"}
        )
        statuses.append(response.status_code)
    assert 429 in statuses, statuses
    limited = httpx.post(edge.http + "/api/auth/register", json={"username": "x"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "too_many_requests"
    assert limited.headers["x-content-type-options"] == "nosniff"
    # Only registrations are limited: logging in from the same address goes on.
    login = httpx.post(edge.http + "/api/auth/login", json={"username": "x", "password": "y"})
    assert login.status_code != 429
