"""The short-lived HTTP clients of a service's background loops (the service token fetch,
the key reload) share one TLS context. httpx parses every CA certificate for each client it
builds otherwise (~27 ms of CPU): with auth down, each monitoring replica retried its token
fetch every second and spent that much each time, beside the readings it should store."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from ems.common import security
from ems.common.credentials import ServiceCredential
from ems.common.security import jwks_loader, tls_context


def closed_port() -> int:
    """A local port nobody listens on: auth is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_token_fetch_retried_while_auth_is_down_builds_no_tls_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If this fails, every failed (or renewed) service token costs a new TLS context."""
    tls_context()  # the process's one context, built once
    built = []
    real = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    url = f"http://127.0.0.1:{closed_port()}"
    credential = ServiceCredential("monitoring", "secret", url, timeout=1.0)
    for _ in range(3):
        with pytest.raises(httpx.ConnectError):
            await credential.token()
    with pytest.raises(httpx.ConnectError):
        await jwks_loader(url)()
    assert built == []


def test_the_shared_context_verifies_certificates_as_httpx_does() -> None:
    """If this fails, sharing the context weakened TLS for the calls that use it."""
    shared = security.tls_context()
    assert shared is security.tls_context()
    assert shared.verify_mode == ssl.CERT_REQUIRED
    assert shared.check_hostname
