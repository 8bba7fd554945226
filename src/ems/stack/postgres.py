"""PostgreSQL for the local stack: the configured server when it answers, else a private one.

The private server runs from the installed Debian binaries with its data under
`<data_dir>/pg`, listening on loopback TCP only, as a supervised child of the runner.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ems.common.settings import to_libpq, with_database
from ems.stack.probes import StackError, connect_problem, pick_port
from ems.stack.processes import ChildSpec

_BINARIES = Path("/usr/lib/postgresql")
# PostgreSQL refuses to run as root; when the runner is root it runs as this account
# (created by the Debian package).
_SERVICE_USER = "postgres"


async def login_problem(server_url: str) -> str | None:
    """None when we can log in to the server at `server_url`, else why not."""
    url = to_libpq(with_database(server_url, "postgres"))
    refused = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
    return await connect_problem(lambda: asyncpg.connect(url, timeout=5), refused)


@dataclass(frozen=True)
class PrivatePostgres:
    data: Path
    port: int
    bin_dir: Path
    # Who runs the server: None for the runner's own user.
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def child(self) -> ChildSpec:
        return ChildSpec(
            name="postgres",
            argv=(
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"port={self.port}",
                # TCP only: a socket path under a deep data folder can exceed the 107
                # characters a Unix socket name may have.
                "-c",
                "unix_socket_directories=",
            ),
            user=self.user,
            # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client.
            stop_signal=signal.SIGINT,
        )


async def prepare_private_postgres(folder: Path, preferred_port: int) -> PrivatePostgres:
    """Initialise the data folder on first use; the caller starts `child()`."""
    bin_dir = _newest_binaries()
    user = _SERVICE_USER if os.geteuid() == 0 else None
    server = PrivatePostgres(folder, pick_port("127.0.0.1", preferred_port), bin_dir, user)
    if not (folder / "PG_VERSION").exists():
        await _initdb(server)
    return server


def _newest_binaries() -> Path:
    candidates = sorted(
        (p for p in _BINARIES.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise StackError(
            "no PostgreSQL answers and none is installed to start: "
            "apt-get install postgresql (or point EMS_PG_URL at a server)"
        )
    return candidates[-1]


async def _initdb(server: PrivatePostgres) -> None:
    server.data.mkdir(parents=True, exist_ok=True)
    if server.user is not None:
        account = pwd.getpwnam(server.user)
        os.chown(server.data, account.pw_uid, account.pw_gid)
    os.chmod(server.data, 0o700)
    process = await asyncio.create_subprocess_exec(
        str(server.bin_dir / "initdb"),
        "-D",
        str(server.data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        user=server.user,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        hint = (
            f" (the {server.user!r} user must be able to reach {server.data}: "
            "set EMS_DATA_DIR to a folder outside private home directories)"
            if server.user
            else ""
        )
        raise StackError(f"initdb failed{hint}:\n{output.decode(errors='replace')}")
