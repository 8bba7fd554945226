"""The Docker engine under the stack: the CLI, installing and starting `dockerd`, the swarm.

What `up` starts here it records in <folder>/engine.json, and `down` stops exactly that:
a `dockerd` it started (and the iptables FORWARD policy as it was before, which dockerd
turns to DROP). An engine that was already running is left alone. A swarm stays
initialised (its state is on disk, so the next `dockerd` is a manager again and the next
`up` skips `swarm init`); `docker swarm leave --force` undoes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ems.stack.probes import StackError

DOCKER_PACKAGE = "docker.io"
# Debian's docker.io puts its CLI here; its `docker build` is BuildKit without a plugin.
PACKAGED_CLI = "/usr/bin/docker"
_SBIN = ("/usr/sbin", "/sbin")
_ENGINE_FILE = "engine.json"
ENGINE_BRIDGES = ("docker_gwbridge", "docker0")

Say = Callable[[str], None]


class Docker:
    """The docker CLI, run to completion."""

    def __init__(self, cli: str) -> None:
        self.cli = cli

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 600.0,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(  # noqa: S603 - our own arguments, no shell
            [self.cli, *args],
            input=input,
            capture_output=True,
            text=True,
            env={**os.environ, **env} if env else None,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            command = " ".join(["docker", *args])
            raise StackError(f"`{command}` failed: {result.stderr.strip() or result.stdout}")
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def lines(self, *args: str) -> list[str]:
        return [line for line in self.out(*args).splitlines() if line.strip()]

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False, timeout=60).returncode == 0

    def inspect(self, kind: str, name: str) -> dict[str, Any] | None:
        result = self.run(kind, "inspect", name, check=False, timeout=60)
        if result.returncode != 0:
            return None
        found: list[dict[str, Any]] = json.loads(result.stdout)
        return found[0] if found else None


def find_cli(configured: str | None) -> str:
    if configured:
        return configured
    if Path(PACKAGED_CLI).is_file():
        return PACKAGED_CLI
    cli = shutil.which("docker")
    if cli is None:
        raise StackError("no docker CLI found: apt-get install docker.io (ems swarm up does)")
    return cli


def dockerd_binary() -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which("dockerd", path=path)


def install_engine(say: Say) -> None:
    """Debian's docker.io when no dockerd is installed (as root; else say what to run)."""
    if dockerd_binary() is not None and Path(PACKAGED_CLI).is_file():
        return
    if os.geteuid() != 0:
        raise StackError(f"Docker is not installed: sudo apt-get install -y {DOCKER_PACKAGE}")
    say(f"installing {DOCKER_PACKAGE} (Debian's Docker engine)")
    _apt_install(DOCKER_PACKAGE)


def install_tool(package: str, binary: str, say: Say) -> str:
    """A Debian package's program, installed when missing (the base image's debootstrap)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    found = shutil.which(binary, path=path)
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise StackError(f"{binary} is not installed: sudo apt-get install -y {package}")
    say(f"installing {package}")
    _apt_install(package)
    found = shutil.which(binary, path=path)
    if found is None:
        raise StackError(f"{package} installed no {binary}")
    return found


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, env=env)  # noqa: S603
        if result.returncode != 0:
            raise StackError(f"`{' '.join(argv)}` failed:\n{result.stdout[-2000:]}")


def ensure_engine(docker: Docker, folder: Path, nice: int, say: Say) -> None:
    """A Docker engine that answers: the running one, else a `dockerd` started here."""
    if docker.ok("info"):
        return
    dockerd = dockerd_binary()
    if dockerd is None:
        raise StackError("dockerd is not installed")
    if os.geteuid() != 0:
        raise StackError("the Docker engine is not running, and only root can start it")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "dockerd.log"
    forward = _forward_policy()
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            [dockerd],
            stdin=subprocess.DEVNULL,
            preexec_fn=niced(nice),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _record(folder, dockerd_pid=process.pid, forward_policy=forward)
    say(f"started dockerd (pid {process.pid}, nice {nice}, log {log})")
    deadline = time.monotonic() + 60
    while not docker.ok("info"):
        if process.poll() is not None:
            raise StackError(f"dockerd exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise StackError(f"dockerd did not answer within 60 s; see {log}")
        time.sleep(0.5)


def ensure_swarm(docker: Docker, folder: Path, say: Say) -> None:
    """This engine in a swarm: a single-node one on loopback unless it is in one."""
    state = docker.out("info", "--format", "{{.Swarm.LocalNodeState}}")
    if state == "active":
        return
    docker.run("swarm", "init", "--advertise-addr", "127.0.0.1")
    _record(folder, initialised_swarm=True)
    say("initialised a single-node swarm (advertised on 127.0.0.1)")


def release_engine(docker: Docker, folder: Path, say: Say) -> None:
    """Stop the dockerd that `up` started; nothing else (the swarm stays initialised)."""
    record = _recorded(folder)
    if record.get("initialised_swarm"):
        say("the swarm stays initialised (`docker swarm leave --force` undoes it)")
    pid = record.get("dockerd_pid")
    if isinstance(pid, int) and _is_dockerd(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _is_dockerd(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        say(f"stopped dockerd (pid {pid})")
        if record.get("forward_policy") == "ACCEPT":
            # dockerd set the FORWARD policy to DROP, which cuts traffic between network
            # namespaces on other bridges (tests/multihost); put it back as it was.
            _iptables("-P", "FORWARD", "ACCEPT")
        # Its bridges outlive it; the next dockerd makes them again.
        for bridge in ENGINE_BRIDGES:
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)  # noqa: S603, S607
    (folder / _ENGINE_FILE).unlink(missing_ok=True)


def niced(increment: int) -> Callable[[], None]:
    """A child's pre-exec step that lowers its priority (and its children's)."""

    def lower() -> None:
        os.nice(increment)

    return lower


def _forward_policy() -> str | None:
    result = _iptables("-S", "FORWARD")
    if result is None:
        return None
    for line in result.splitlines():
        if line.startswith("-P FORWARD "):
            return line.split()[-1]
    return None


def _iptables(*args: str) -> str | None:
    iptables = shutil.which("iptables", path=os.pathsep.join(["/usr/sbin", "/sbin", "/usr/bin"]))
    if iptables is None:
        return None
    result = subprocess.run([iptables, *args], capture_output=True, text=True)  # noqa: S603
    return result.stdout if result.returncode == 0 else None


def _is_dockerd(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return "dockerd" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    return False


def _recorded(folder: Path) -> dict[str, Any]:
    path = folder / _ENGINE_FILE
    if not path.is_file():
        return {}
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def _record(folder: Path, **values: Any) -> None:
    record = {**_recorded(folder), **values}
    (folder / _ENGINE_FILE).write_text(json.dumps(record, indent=2) + "\n")


def tail(path: Path, lines: int = 30) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
