"""Every service's OpenAPI document, for the web app's generated API types (`make api-types`).

`uv run python -m ems.openapi` prints one JSON object, service name to document. The apps are
built in-process and never started (no lifespan: no database, no broker); their settings come
from defaults alone, without `EMS_*` variables, so every machine prints the same documents.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ems.common.registry import service_specs


def documents() -> dict[str, dict[str, Any]]:
    """The OpenAPI document of each service that serves documented routes, by service name."""
    found: dict[str, dict[str, Any]] = {}
    for spec in service_specs():
        settings = spec.load_settings_class()(environment="development")
        document = spec.build_app(settings).openapi()
        if document.get("paths"):
            found[spec.name] = document
    return found


def main() -> None:
    for name in [name for name in os.environ if name.upper().startswith("EMS_")]:
        del os.environ[name]
    json.dump(documents(), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
