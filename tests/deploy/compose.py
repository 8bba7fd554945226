"""Reading deploy/compose.yaml (and deploy/swarm/stack.yaml) as Docker would: variables
interpolated, YAML merge keys resolved, and each container's command split into the `ems`
invocations it runs."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from ems.auth.settings import AuthSettings
from ems.cli import build_parser
from ems.common.registry import service_spec
from ems.common.settings import CommonSettings
from ems.simulator.settings import SimulatorSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
STACK_FILE = ROOT / "deploy" / "swarm" / "stack.yaml"
# The image's ENTRYPOINT (deploy/Dockerfile).
IMAGE_ENTRYPOINT = ["ems"]
# Words that only hand over to the rest of a command: the Swarm entry point (it prepares the
# environment, then runs its arguments) and the shell's exec.
_WRAPPERS = {"ems-entrypoint", "exec"}
EMS_IMAGES = {"ems", "ems/app"}

# $$ is a literal $; ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}.
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


class MissingVariables(Exception):
    def __init__(self, names: set[str]) -> None:
        super().__init__(f"required variables unset: {sorted(names)}")
        self.names = names


def interpolate(text: str, env: dict[str, str]) -> str:
    missing: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = value is None or (op is not None and op.startswith(":") and not value)
        if op is None:
            return value or ""
        if op.endswith("-"):
            return arg if unset_or_empty else str(value)
        if unset_or_empty:
            missing.add(name)
            return ""
        return str(value)

    result = _VARIABLE.sub(substitute, text)
    if missing:
        raise MissingVariables(missing)
    return result


def load(env: dict[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose model with `env` as the shell's environment."""
    model: dict[str, Any] = yaml.safe_load(interpolate(path.read_text(), env))
    return model


@dataclass(frozen=True)
class Container:
    name: str
    config: dict[str, Any]

    @property
    def uses_ems_image(self) -> bool:
        return str(self.config.get("image", "")).split(":")[0] in EMS_IMAGES

    @property
    def argv(self) -> list[str]:
        entrypoint = self.config.get("entrypoint", IMAGE_ENTRYPOINT)
        command = self.config.get("command", [])
        if isinstance(command, str):
            command = shlex.split(command)
        return _unwrapped([*entrypoint, *command])

    @property
    def environment(self) -> dict[str, str]:
        env = self.config.get("environment", {})
        return {key: "" if value is None else str(value) for key, value in env.items()}

    def commands(self) -> list[list[str]]:
        """Every simple command the container runs: its argv, or each one of a `sh -c` script."""
        argv = self.argv
        if argv[:2] != ["sh", "-c"]:
            return [argv]
        lexer = shlex.shlex(" ".join(argv[2:]), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        found: list[list[str]] = [[]]
        for token in lexer:
            if token in {"&&", "||", ";", "|", "&"}:
                found.append([])
            else:
                found[-1].append(token)
        return [_unwrapped(words) for words in found if words]

    def ems_invocations(self) -> list[list[str]]:
        """The arguments of every `ems` command the container runs."""
        return [words[1:] for words in self.commands() if words[:1] == ["ems"]]

    def python_snippets(self) -> list[str]:
        """Code the container runs with `python -c`."""
        return [
            words[2]
            for words in self.commands()
            if words[:2] == ["python", "-c"] and len(words) > 2
        ]


def _unwrapped(words: list[str]) -> list[str]:
    while words and words[0] in _WRAPPERS:
        words = words[1:]
    return words


def containers(model: dict[str, Any]) -> dict[str, Container]:
    return {name: Container(name, config) for name, config in model["services"].items()}


def parse(argv: list[str]) -> argparse.Namespace:
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"`ems {' '.join(argv)}` is not a command of the ems CLI") from exc


def settings_class(argv: list[str]) -> type[CommonSettings]:
    """The settings an `ems` invocation reads."""
    args = parse(argv)
    if argv[0] in {"serve", "migrate"}:
        names = [args.service] if argv[0] == "serve" else list(args.services)
        assert len(names) == 1, f"`ems {' '.join(argv)}` should name one service"
        return service_spec(names[0]).load_settings_class()
    if argv[0] == "ensure-admin":
        return AuthSettings
    if argv[0] == "simulate":
        return SimulatorSettings
    raise AssertionError(f"no settings class known for `ems {argv[0]}`")


def assert_production_settings(
    name: str, argv: list[str], env: dict[str, str], monkeypatch: Any
) -> None:
    """`env` (and nothing else of the machine's) as the settings of `ems <argv>`: every EMS_
    variable is one they read, and they validate as production settings on 0.0.0.0."""
    cls = settings_class(argv)
    unknown = [k for k in env if k.startswith("EMS_") and k[4:].lower() not in cls.model_fields]
    assert unknown == [], f"{name}: {cls.__name__} does not read {unknown}"
    with monkeypatch.context() as m:
        for key in [k for k in os.environ if k.startswith("EMS_")]:
            m.delenv(key)
        for key, value in env.items():
            m.setenv(key, value)
        settings = cls()
    assert settings.environment == "production", name
    assert settings.host == "0.0.0.0", f"{name} would listen on loopback only"


def deploy_gateway() -> Any:
    """deploy/gateway.py, the image's gateway config renderer, as a module."""
    path = ROOT / "deploy" / "gateway.py"
    spec = importlib.util.spec_from_file_location("ems_deploy_gateway", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
