"""Setting a broker up for the platform with RabbitMQ's own tools (as root, or as the user
the broker runs as): the consistent-hash plugin, the message size limit, and the vhost,
topology, users and permissions imported in one go."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ems.common.messaging.definitions import broker_definitions
from ems.common.messaging.topology import IDENTITIES, MAX_MESSAGE_BYTES

PLUGIN = "rabbitmq_consistent_hash_exchange"


class ProvisionError(RuntimeError):
    """The broker could not be set up; the text says what to do."""


class BrokerTools:
    """`rabbitmqctl` and `rabbitmq-plugins` against one node (the local one by default, or a
    private node through its environment: node name, Erlang cookie home, port mapper)."""

    def __init__(self, env: Mapping[str, str] | None = None, timeout: float = 120.0) -> None:
        self.env = {**os.environ, **(env or {})}
        self.timeout = timeout

    @staticmethod
    def available() -> str | None:
        """None when the tools can be used here, else why not."""
        if shutil.which("rabbitmqctl") is None:
            return "rabbitmqctl is not installed"
        if os.geteuid() != 0:
            return "rabbitmqctl needs root (sudo) to reach the local broker"
        return None

    def run(self, tool: str, *args: str) -> str:
        try:
            done = subprocess.run(  # noqa: S603 - our own fixed tools and arguments
                [tool, "-q", *args],
                check=True,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=self.env,
            )
        except subprocess.CalledProcessError as exc:
            raise ProvisionError(
                f"{tool} {' '.join(args[:1])} failed: {exc.stderr.strip()[:500]}"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProvisionError(f"{tool} {' '.join(args[:1])} failed: {exc}") from exc
        return done.stdout

    def ctl(self, *args: str) -> str:
        return self.run("rabbitmqctl", *args)

    def enable_plugin(self) -> None:
        self.run("rabbitmq-plugins", "enable", PLUGIN)

    def limit_message_size(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        """The broker refuses larger messages (until its next restart; rabbitmq.conf's
        `max_message_size` keeps it for good)."""
        self.ctl("eval", f"application:set_env(rabbit, max_message_size, {int(max_bytes)}).")

    def import_definitions(self, definitions: dict[str, object]) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(definitions, f)
            path = f.name
        try:
            os.chmod(path, 0o644)
            self.ctl("import_definitions", path)
        finally:
            Path(path).unlink(missing_ok=True)

    def delete_users(self, prefix: str) -> None:
        for identity in IDENTITIES:
            try:
                self.ctl("delete_user", f"{prefix}{identity}")
            except ProvisionError:
                continue

    def provision(
        self,
        vhost: str,
        prefix: str,
        passwords: dict[str, str],
        *,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        """The plugin, the size limit, and the vhost with its topology, users, permissions."""
        self.enable_plugin()
        self.limit_message_size(max_message_bytes)
        self.import_definitions(broker_definitions(vhost, prefix, passwords))
