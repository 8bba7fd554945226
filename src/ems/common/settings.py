"""Settings shared by every service, read from `EMS_*` environment variables.

Each service subclasses `CommonSettings` with its own fields; an entry point reads the
settings once and passes them down, so tests can build any service with their own values.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that must never reach a production deployment.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "password", "admin", "secret", "guest", "test", "example"}
)


class CommonSettings(BaseSettings):
    """What every service needs: where PostgreSQL and RabbitMQ are, logging, token checks."""

    model_config = SettingsConfigDict(env_prefix="EMS_", extra="ignore")

    # The logical database this service owns (e.g. "authdb"); None for stateless services.
    database_name: ClassVar[str | None] = None

    environment: Literal["development", "test", "production"] = "development"
    # PostgreSQL server without a database name; each service appends its own database.
    pg_url: str = "postgresql://postgres@127.0.0.1:5432"
    # Prepended to every database name: lets test runs and stacks share one server.
    db_prefix: str = ""
    # Overrides pg_url + db_prefix + database_name for this service when set.
    database_url: str | None = None
    # Per process, twice this at most (opened as needed, then kept): ten services x
    # replicas share one server.
    db_pool_size: int = 5

    # Where the broker is (host, port, vhost, `?heartbeat=`). Services log in with their own
    # identity (below), never with credentials written here.
    amqp_url: str = "amqp://127.0.0.1:5672/"
    # Each service logs in as `<broker_user_prefix><service>` (the simulator as `...meter`);
    # a prefix lets several stacks (test runs) share one broker.
    broker_user_prefix: str = ""
    # This process's broker password: required in production (or `broker_password_file`,
    # e.g. a Docker secret). Otherwise read from `<broker_secrets_dir>/<identity>`, where
    # provisioning (`ems up`, `ems broker provision`) keeps generated ones.
    broker_password: str | None = None
    broker_password_file: Path | None = None
    broker_secrets_dir: Path | None = None
    # Larger message bodies are dead-lettered unread (the broker refuses them as well).
    broker_max_message_bytes: int = 64 * 1024
    # A message delivered this many times without being settled is dead-lettered.
    broker_delivery_limit: int = 10

    data_dir: Path = Path(".ems")
    log_level: str = "INFO"
    log_json: bool = True

    # Where services fetch the auth service's public keys (JWKS) to verify tokens themselves.
    auth_internal_url: str = "http://127.0.0.1:8101"
    jwt_issuer: str = "ems-auth"
    jwt_audience: str = "ems"
    # This service's own credential for other services' `/internal/*` routes (see
    # ems.common.credentials); outside production, derived from a key under data_dir.
    service_secret: str | None = None
    # How often this process polls auth's revocations, and how stale its copy may grow
    # (auth unreachable) before tokens are refused with 503 instead of trusted.
    revocations_poll_seconds: float = 1.0
    revocations_max_age_seconds: float = 10.0

    host: str = "127.0.0.1"
    port: int = 0
    # Addresses whose X-Forwarded-For is believed (the gateway's): the client address behind
    # it is what login throttling counts. Comma-separated; "*" trusts every peer.
    forwarded_allow_ips: str = "127.0.0.1"
    # Which replica of the service this process is (0-based); set by the runner.
    instance: int = 0

    def dsn(self) -> str:
        """The SQLAlchemy (asyncpg) URL of this service's own database."""
        if self.database_url:
            return to_asyncpg(self.database_url)
        if self.database_name is None:
            raise RuntimeError(f"{type(self).__name__} owns no database")
        return to_asyncpg(with_database(self.pg_url, self.full_database_name()))

    def secrets_dir(self) -> Path:
        """Where development and test passwords of the broker identities are kept."""
        return self.broker_secrets_dir or self.data_dir / "broker"

    def full_database_name(self) -> str:
        assert self.database_name is not None
        return f"{self.db_prefix}{self.database_name}"

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> CommonSettings:
        if self.environment == "production":
            for name, value in self.secrets().items():
                if value is None or value.strip().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(
                        f"EMS_{name.upper()} must be set to a real secret in production"
                    )
            if self.broker_password_file is None and (
                self.broker_password is None
                or self.broker_password.strip().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(
                    "EMS_BROKER_PASSWORD (or EMS_BROKER_PASSWORD_FILE) must be set to a real "
                    "password in production"
                )
        return self

    def secrets(self) -> dict[str, str | None]:
        """Settings that must hold real secrets in production; services add theirs."""
        return {}


def with_database(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def to_asyncpg(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if scheme in {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}:
        return f"postgresql+asyncpg{sep}{rest}"
    return url


def to_libpq(url: str) -> str:
    """The plain `postgresql://` form that asyncpg.connect and psql understand."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.startswith("postgres") else url
