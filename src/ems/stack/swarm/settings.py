"""Settings of `ems swarm`, from `EMS_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class SwarmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMS_", extra="ignore")

    # Secrets, logs and build figures go to <data_dir>/swarm.
    data_dir: Path = Path(".ems")
    # Published on every address of the host: the gateway, and AMQP for meters.
    swarm_http_port: int = 8090
    swarm_amqp_port: int = 5673
    # The first admin and the meters' broker password: generated once when unset.
    admin_username: str = "admin"
    admin_password: str | None = None
    meter_password: str | None = None
    # Images from a registry instead of building ours (e.g. postgres:15-bookworm,
    # rabbitmq:3.13): unset builds them from Debian packages.
    swarm_postgres_image: str | None = None
    swarm_rabbitmq_image: str | None = None
    # The Debian mirror the base image is made from; unset: the one apt uses here.
    swarm_debian_mirror: str | None = None
    swarm_monitoring_replicas: int = 2
    swarm_realtime_replicas: int = 2
    # The Docker CLI; unset: the one from the docker.io package (its builder is BuildKit;
    # a newer stand-alone client without buildx falls back to the legacy builder).
    swarm_docker: str | None = None
    # The niceness of a Docker engine `up` starts (its builds and containers inherit it):
    # a build is heavy on a small machine shared with other work. 0 on a dedicated host.
    swarm_nice: int = 10
    # How long `up` waits for every service to be healthy.
    swarm_ready_timeout: float = 900.0
    # `down` also deletes the volumes (every database, the broker's queues) and secrets.
    swarm_purge: bool = False

    @property
    def folder(self) -> Path:
        return self.data_dir.resolve() / "swarm"
