"""The images, from Debian packages and our code; nothing from an image registry.

- `ems/base:bookworm`: `debootstrap --variant=minbase bookworm` from the Debian mirror apt
  uses here, trimmed (no apt lists or package caches, no docs or translations installed
  later) and `docker import`ed. Made once and reused while it exists.
- `ems/app`, `ems/postgres`, `ems/rabbitmq`: `docker build` on the base (deploy/Dockerfile,
  deploy/postgres/, deploy/rabbitmq/), BuildKit caching every layer whose inputs did not
  change. Each is also tagged with its image id, and the stack deploys that tag: Swarm
  rolls a service exactly when its image changed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ems.stack.probes import StackError
from ems.stack.swarm.engine import Docker, Say, install_tool, niced, tail

BASE_IMAGE = "ems/base:bookworm"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
APT_SOURCES = Path("/etc/apt")
# The host's CA bundle (Debian's, with any locally added CA): handed to builds that read
# PyPI, so they work behind a TLS-inspecting proxy the host trusts. Never stored in an image.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# Installed into the base so that every image built on it stays small and quiet.
_BASE_FILES = {
    # Package scripts must not start daemons while an image is built.
    "usr/sbin/policy-rc.d": "#!/bin/sh\nexit 101\n",
    "etc/apt/apt.conf.d/90ems": (
        'APT::Install-Recommends "false";\n'
        'APT::Install-Suggests "false";\n'
        'Acquire::Languages "none";\n'
        'Dpkg::Options { "--force-confdef"; "--force-confold"; };\n'
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n'
    ),
    "etc/dpkg/dpkg.cfg.d/90ems-nodoc": (
        "path-exclude /usr/share/doc/*\n"
        "path-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\n"
        "path-exclude /usr/share/info/*\n"
        "path-exclude /usr/share/locale/*\n"
        "path-include /usr/share/locale/locale.alias\n"
    ),
}


@dataclass(frozen=True)
class Built:
    """One image as `up` left it: the tag the stack deploys, its size, its build time."""

    name: str
    tag: str
    size_bytes: int
    seconds: float
    # The image was already there and used as it was (the base image).
    reused: bool = False


@dataclass(frozen=True)
class ImageBuild:
    name: str
    dockerfile: str
    context: str


# Built in this order; the EMS image last, since a code change rebuilds only it.
IMAGES = (
    ImageBuild("ems/postgres", "deploy/postgres/Dockerfile", "deploy/postgres"),
    ImageBuild("ems/rabbitmq", "deploy/rabbitmq/Dockerfile", "deploy/rabbitmq"),
    ImageBuild("ems/app", "deploy/Dockerfile", "."),
)


def ensure_base(docker: Docker, folder: Path, mirror: str | None, nice: int, say: Say) -> Built:
    """The base image: reused when present, else made with debootstrap (about a minute)."""
    started = time.monotonic()
    reused = docker.inspect("image", BASE_IMAGE) is not None
    if not reused:
        debootstrap = install_tool("debootstrap", "debootstrap", say)
        primary, security = debian_mirrors(mirror)
        say(f"making {BASE_IMAGE} with debootstrap from {primary}")
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "debootstrap.log"
        with tempfile.TemporaryDirectory(dir=folder, prefix="rootfs-") as tmp:
            root = Path(tmp)
            with log.open("w") as out:
                done = subprocess.run(  # noqa: S603
                    [
                        debootstrap,
                        "--variant=minbase",
                        SUITE,
                        str(root),
                        primary,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    preexec_fn=niced(nice),
                )
            if done.returncode != 0:
                raise StackError(f"debootstrap failed:\n{tail(log)}")
            _trim(root, primary, security)
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)  # noqa: S603, S607
            imported = subprocess.run(  # noqa: S603
                [
                    docker.cli,
                    "import",
                    "--change",
                    'CMD ["bash"]',
                    "--change",
                    "ENV LANG=C.UTF-8",
                    "-",
                    BASE_IMAGE,
                ],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
            )
            tar.wait()
            if imported.returncode != 0 or tar.returncode != 0:
                raise StackError(f"docker import failed: {imported.stderr.strip()}")
    seconds = time.monotonic() - started
    return Built(BASE_IMAGE, BASE_IMAGE, image_size(docker, BASE_IMAGE), seconds, reused)


def debian_mirrors(configured: str | None) -> tuple[str, str]:
    """The Debian mirror and security mirror apt uses on this machine (or the defaults)."""
    primary = configured
    security: str | None = None
    for uri, suites in _apt_entries(APT_SOURCES):
        if primary is None and SUITE in suites:
            primary = uri
        if security is None and f"{SUITE}-security" in suites:
            security = uri
    return (primary or DEFAULT_MIRROR).rstrip("/"), (security or DEFAULT_SECURITY_MIRROR).rstrip(
        "/"
    )


def _apt_entries(apt: Path) -> list[tuple[str, list[str]]]:
    """(URI, suites) of every Debian source in sources.list and sources.list.d/."""
    entries: list[tuple[str, list[str]]] = []
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
                for uri in fields.get("URIs", "").split():
                    entries.append((uri, fields.get("Suites", "").split()))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
    return entries


def _trim(root: Path, primary: str, security: str) -> None:
    for relative, content in _BASE_FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "usr/sbin/policy-rc.d").chmod(0o755)
    (root / "etc/apt/sources.list").write_text(
        f"deb {primary} {SUITE} main\n"
        f"deb {primary} {SUITE}-updates main\n"
        f"deb {security} {SUITE}-security main\n"
    )
    for folder in (
        "var/lib/apt/lists",
        "var/cache/apt/archives",
        "usr/share/man",
        "usr/share/info",
    ):
        _empty(root / folder)
    for doc in (root / "usr/share/doc").glob("*"):
        for path in doc.glob("*"):
            if path.name != "copyright":
                _remove(path)
    for locale in (root / "usr/share/locale").glob("*"):
        if locale.name != "locale.alias":
            _remove(locale)


def _empty(folder: Path) -> None:
    for path in folder.glob("*"):
        if path.name != "partial":
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def build(docker: Docker, root: Path, image: ImageBuild, folder: Path, say: Say) -> Built:
    """`docker build` one image on the base; tag it with its id for the stack."""
    started = time.monotonic()
    log = folder / f"build-{image.name.replace('/', '-')}.log"
    ca = ["--secret", f"id=ca-bundle,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    with log.open("w") as out:
        done = subprocess.run(  # noqa: S603
            [
                docker.cli,
                "build",
                *ca,
                "--progress=plain",
                "--build-arg",
                f"EMS_BASE_IMAGE={BASE_IMAGE}",
                "-f",
                image.dockerfile,
                "-t",
                f"{image.name}:latest",
                image.context,
            ],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_buildkit(),
        )
    if done.returncode != 0:
        raise StackError(f"building {image.name} failed ({log}):\n{tail(log)}")
    seconds = time.monotonic() - started
    image_id = docker.out("image", "inspect", "--format", "{{.Id}}", f"{image.name}:latest")
    tag = f"{image.name}:{image_id.removeprefix('sha256:')[:12]}"
    docker.run("tag", f"{image.name}:latest", tag)
    built = Built(image.name, tag, image_size(docker, tag), seconds)
    say(f"{tag}: {built.size_bytes / 1e6:.0f} MB, built in {seconds:.0f} s")
    return built


def image_size(docker: Docker, tag: str) -> int:
    return int(docker.out("image", "inspect", "--format", "{{.Size}}", tag))


def _buildkit() -> dict[str, str]:
    import os

    return {**os.environ, "DOCKER_BUILDKIT": "1"}
