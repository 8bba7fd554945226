"""Settings of the local runner (`ems up`), from `EMS_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator

from ems.common.settings import CommonSettings


class StackSettings(CommonSettings):
    """Where the gateway listens and how the runner lays out ports and waits."""

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Added to every service port: a second stack (a test run's) can run beside a
    # developer's without a clash. Service replica i listens on spec.port + i + offset.
    port_offset: int = 0
    # The web app's build output; the gateway serves a placeholder page until it exists.
    web_dist: Path = Path("web/dist")
    # Preferred ports of the PostgreSQL and RabbitMQ the runner starts itself when none
    # answers; a free port is taken when these are busy.
    private_pg_port: int = 55432
    private_amqp_port: int = 55672
    # How long a service (or the database, the broker, the gateway) may take to get ready.
    ready_timeout: float = 90.0
    # How long a child may take to stop after SIGTERM before it is killed.
    stop_timeout: float = 10.0
    # The first admin's password, when set (the demo logs in with it to create its data).
    admin_password: str | None = None

    # HTTPS: the gateway also listens on `https_port` with this certificate and key (PEM),
    # sends HSTS there, and redirects plain HTTP from other machines to it. For local use,
    # `tls_self_signed` makes a certificate for localhost under the data folder at first run.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_self_signed: bool = False
    https_port: int = 8443
    # Registrations the gateway lets through per client address (nginx limit_req).
    signup_per_minute: int = 10
    signup_burst: int = 20

    @property
    def tls_enabled(self) -> bool:
        return self.tls_self_signed or self.tls_cert is not None

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> StackSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("EMS_TLS_CERT and EMS_TLS_KEY go together")
        return self
