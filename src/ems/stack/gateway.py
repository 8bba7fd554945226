"""Running the nginx gateway as one of the runner's children."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from ems.common.registry import RateLimit
from ems.gateway.nginx import (
    DEFAULT_RATE_LIMITS,
    GatewayConfig,
    Tls,
    Upstream,
    placeholder_root,
    render,
)
from ems.gateway.tls import self_signed_certificate
from ems.stack.probes import StackError
from ems.stack.processes import ChildSpec
from ems.stack.settings import StackSettings


def static_root(web_dist: Path) -> Path:
    """The web app's build when there is one, else the placeholder page."""
    return web_dist.resolve() if (web_dist / "index.html").is_file() else placeholder_root()


def write_config(
    folder: Path,
    host: str,
    port: int,
    root: Path,
    services: tuple[Upstream, ...],
    *,
    credential: str | None = None,
    tls: Tls | None = None,
    rate_limits: Mapping[str, RateLimit] | None = None,
) -> Path:
    """Render nginx.conf into `folder` (with its private run and log folders)."""
    run_dir, log_dir = folder / "run", folder / "logs"
    for path in (folder, run_dir, log_dir):
        path.mkdir(parents=True, exist_ok=True)
    # The verify cache under run/ holds bearer tokens (they are its keys).
    run_dir.chmod(0o700)
    config = GatewayConfig(
        listen_host=host,
        listen_port=port,
        run_dir=run_dir,
        log_dir=log_dir,
        static_root=root,
        services=services,
        run_as_root=os.geteuid() == 0,
        service_credential=credential,
        tls=tls,
        rate_limits=rate_limits or DEFAULT_RATE_LIMITS,
    )
    conf = folder / "nginx.conf"
    # The config holds the gateway's service credential: readable by its owner only.
    conf.touch(mode=0o600)
    conf.chmod(0o600)
    conf.write_text(render(config))
    return conf


def tls_config(settings: StackSettings, data_dir: Path) -> Tls | None:
    """HTTPS as the settings ask: their certificate, a self-signed one, or none."""
    if settings.tls_cert is not None and settings.tls_key is not None:
        return Tls(settings.https_port, settings.tls_cert.resolve(), settings.tls_key.resolve())
    if settings.tls_self_signed:
        cert, key = self_signed_certificate(data_dir / "tls")
        return Tls(settings.https_port, cert, key)
    return None


async def check_config(conf: Path) -> None:
    """`nginx -t`: a broken config is reported once, not as a restart loop."""
    process = await asyncio.create_subprocess_exec(
        *_command(conf),
        "-t",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise StackError(f"the gateway config {conf} is invalid:\n{output.decode()}")


def gateway_child(conf: Path) -> ChildSpec:
    # In the foreground (daemon off) so the runner supervises the master; SIGTERM is
    # nginx's fast shutdown.
    return ChildSpec(name="gateway", argv=(*_command(conf), "-g", "daemon off;"))


def nginx_binary() -> str:
    # Debian installs nginx in /usr/sbin, which a normal user's PATH may lack.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    nginx = shutil.which("nginx", path=path)
    if nginx is None:
        raise StackError("nginx is not installed: apt-get install nginx (make run does it)")
    return nginx


def _command(conf: Path) -> tuple[str, ...]:
    return (nginx_binary(), "-p", str(conf.parent), "-c", str(conf))
