"""Every service's OpenAPI fuzzed through the real gateway (schemathesis), as an admin and as
a client: no server error, no status code the document does not declare, no response that
violates its schema.

Examples per operation: `EMS_FUZZ_EXAMPLES` (default 10, which keeps the run around a
minute). With `EMS_RESULTS_DIR` set, the figures are written to `schemathesis.md` there
(`make fuzz-results` writes docs/results/); a plain test run rewrites no tracked file.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from requests.adapters import HTTPAdapter
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from tests.platform.secure import SecurePlatform

EXAMPLES = int(os.environ.get("EMS_FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
# The fuzzer's own client address (the whole 127/8 is loopback): the throttling it sets
# off (login, password) never holds back the other tests, which come from 127.0.0.1.
FUZZER_ADDRESS = "127.0.0.77"


class FromAddress(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (FUZZER_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Tally:
    role: str
    service: str
    operations: int = 0
    cases: int = 0
    failures: list[str] = field(default_factory=list)


def fuzz(base_url: str, document_url: str, token: str, tally: Tally) -> None:
    """Every operation of one document, `EXAMPLES` cases each (blocking: run in a thread)."""
    schema = schemathesis.openapi.from_url(base_url + document_url)
    session = requests.Session()
    session.mount("http://", FromAddress())
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here, as meant
        tally.operations += 1
        _cases(operation, base_url, session, headers, tally)()


def _cases(
    operation: Any, base_url: str, session: requests.Session, headers: dict[str, str], tally: Tally
) -> Any:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        tally.cases += 1
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as failure:  # kept, not raised: all are listed
            lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
            checks = [line for line in lines if line.startswith("- ")]
            status = next((line for line in lines if line.startswith("[")), "")
            tally.failures.append(f"{operation.label}: {' '.join(checks)} {status}")

    return run


@pytest.mark.timeout(600)
async def test_every_api_holds_to_its_openapi_document(secure_platform: SecurePlatform) -> None:
    """If this fails, some input makes a service fail (500), or answers with a status code
    or a body its OpenAPI document does not declare (the docs lie to API clients)."""
    services = (await secure_platform.gateway.get("/api/docs/services.json")).json()
    _, client_token = await secure_platform.new_client()
    tokens = {"admin": secure_platform.admin_token, "client": client_token}
    tallies = []
    started = time.monotonic()
    for role, token in tokens.items():
        for service in services:
            tally = Tally(role, service["name"])
            await asyncio.to_thread(fuzz, secure_platform.gateway_url, service["url"], token, tally)
            tallies.append(tally)
    elapsed = time.monotonic() - started
    _write_results(tallies, elapsed)
    failures = sorted({f"{t.role} {f}" for t in tallies for f in t.failures})
    assert sum(t.operations for t in tallies) > 0
    assert failures == [], "\n".join(failures)


LIST_ROUTES = [
    "/api/users",
    "/api/devices",
    "/api/consumption/alerts",
    "/api/support/history",
    "/api/support/conversations",
    "/api/realtime/presence",
]


async def test_page_numbers_and_sizes_are_bounded_everywhere(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, a list route turns a huge page number or size into a 500 (the
    database's offset overflows) instead of refusing it with the error shape."""
    admin = {"Authorization": f"Bearer {secure_platform.admin_token}"}
    client, _ = await secure_platform.new_client()
    for path in LIST_ROUTES:
        # An admin reads one client's history at a time.
        whose = {"user_id": client["id"]} if path.endswith("/history") else {}
        for params in (
            {"page": "27369437223122227953664"},
            {"page": "0"},
            {"size": "100000"},
            {"size": "0"},
        ):
            response = await secure_platform.gateway.get(
                path, params={**whose, **params}, headers=admin
            )
            assert response.status_code == 422, (path, params, response.status_code)
            assert response.json()["error"]["code"] == "validation_error"
        fine = await secure_platform.gateway.get(
            path, params={**whose, "page": 2, "size": 5}, headers=admin
        )
        assert fine.status_code == 200, (path, fine.text)
        assert fine.json()["page"] == 2 and fine.json()["size"] == 5


def _write_results(tallies: list[Tally], elapsed: float) -> None:
    folder = os.environ.get("EMS_RESULTS_DIR")
    if not folder:
        return
    lines = [
        "# schemathesis: every service's OpenAPI through the gateway",
        "",
        "Written by `tests/security/test_schemathesis.py` (`make fuzz-results`); checks:",
        "no server error, status code declared, response matches its schema, content type",
        f"declared. {EXAMPLES} examples per operation; run took {elapsed:.0f} s.",
        "",
        "| role | service | operations | cases | failures |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t.role} | {t.service} | {t.operations} | {t.cases} | {len(t.failures)} |"
        for t in tallies
    ]
    total_ops = sum(t.operations for t in tallies)
    total_cases = sum(t.cases for t in tallies)
    total_failures = sum(len(t.failures) for t in tallies)
    lines += [f"| all | all | {total_ops} | {total_cases} | {total_failures} |", ""]
    path = Path(folder) / "schemathesis.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
