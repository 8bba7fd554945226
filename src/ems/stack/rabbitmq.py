"""RabbitMQ for the local stack: the configured broker when it answers, else a private one.

The private broker runs from the installed Debian package with everything (data, logs,
Erlang cookie, plugins file) under `<data_dir>/rabbitmq`, its own Erlang port mapper and
loopback-only ports, so it never meets a system broker on the same machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import aiormq

from ems.common.messaging.definitions import broker_definitions
from ems.common.messaging.provision import PLUGIN
from ems.common.messaging.topology import MAX_MESSAGE_BYTES
from ems.stack.probes import StackError, connect_problem, pick_port
from ems.stack.processes import ChildSpec

# The script itself, not the /usr/sbin wrapper that switches user and folder.
_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
_NODE = "ems@localhost"
_HOST = "127.0.0.1"


async def login_problem(amqp_url: str) -> str | None:
    """None when we can open a connection to `amqp_url`, else why not."""
    # The client raises many unrelated types; any means "no".
    return await connect_problem(
        lambda: asyncio.wait_for(aiormq.connect(amqp_url), 5), (Exception,)
    )


@dataclass(frozen=True)
class PrivateRabbitMQ:
    folder: Path
    amqp_port: int
    dist_port: int
    epmd_port: int

    @property
    def url(self) -> str:
        """Where it is; the services log in with their own identities (guest cannot: the
        definitions it loads at boot hold only the platform's users)."""
        return f"amqp://{_HOST}:{self.amqp_port}/"

    @property
    def pid_file(self) -> Path:
        return self.folder / "rabbitmq.pid"

    def port_mapper(self) -> ChildSpec:
        """The Erlang port mapper, run by us so that it stops with the stack."""
        epmd = shutil.which("epmd") or "epmd"
        return ChildSpec(name="epmd", argv=(epmd, "-port", str(self.epmd_port), "-address", _HOST))

    def server(self) -> ChildSpec:
        # The script starts the broker in the background and forwards SIGTERM to it as a
        # clean shutdown; the broker's own PID lands in pid_file.
        folder = self.folder
        env = {
            # A clean environment: a developer's own RABBITMQ_* or ERL_* settings must not
            # leak into the private broker.
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(folder),
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": _NODE,
            "RABBITMQ_NODE_IP_ADDRESS": _HOST,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": _HOST,
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            # Logs go to stdout, where the runner prefixes them.
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        }
        return ChildSpec(name="rabbitmq", argv=(str(_SERVER),), env=env, cwd=folder)

    def server_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None


def prepare_private_rabbitmq(
    folder: Path, preferred_port: int, prefix: str, passwords: dict[str, str]
) -> PrivateRabbitMQ:
    """Write the broker's config (with the platform's vhost, topology, users and permissions
    loaded at every boot); the caller starts `port_mapper()` and then `server()`."""
    if not _SERVER.exists():
        raise StackError(
            "no RabbitMQ answers and none is installed to start: "
            "apt-get install rabbitmq-server (or point EMS_AMQP_URL at a broker)"
        )
    amqp_port = pick_port(_HOST, preferred_port)
    broker = PrivateRabbitMQ(
        folder,
        amqp_port=amqp_port,
        dist_port=pick_port(_HOST, amqp_port + 1),
        epmd_port=pick_port(_HOST, amqp_port + 2),
    )
    folder.mkdir(parents=True, exist_ok=True)
    definitions = folder / "definitions.json"
    fd = os.open(definitions, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(broker_definitions("/", prefix, passwords), f, indent=1)
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {_HOST}:{amqp_port}\n"
        "loopback_users.guest = true\n"
        f"load_definitions = {definitions}\n"
        f"max_message_size = {MAX_MESSAGE_BYTES}\n"
        # Its start-up chatter would drown the services' output.
        "log.console.level = warning\n"
    )
    # Readings are spread over the partitions by the exchange type this plugin adds.
    (folder / "enabled_plugins").write_text(f"[{PLUGIN}].\n")
    return broker
