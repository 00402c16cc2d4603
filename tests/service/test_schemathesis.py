"""Property-based requests over the whole OpenAPI schema: no server errors.

Schemathesis generates valid and invalid requests for every operation
(authenticated as an admin, who may call them all) against a real server;
whatever it sends, the answer is never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from bastion.config import Settings
from bastion.review.vault import new_key
from tests.service.live import LiveServer, live_server

ADMIN: dict[str, str] = {}
#: Generated requests per operation.
EXAMPLES = 25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home: Path = tmp_path_factory.mktemp("schemathesis")
    with live_server(Settings(home=home, media_keys=new_key(), rate_limit=0)) as running:
        key, _ = running.state.accounts.create_key("fuzzer", "admin", actor="test")
        ADMIN["Authorization"] = f"Bearer {key}"
        running.state.accounts.add_user(
            "fuzz-reviewer", "reviewer", "a long test password", actor="t"
        )
        yield running


def test_no_server_errors(server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=ADMIN)
    failures: list[str] = []
    operations = 0
    for found in schema.get_all_operations():
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.url, headers=ADMIN)
            if response.status_code >= 500:
                where = f"{case.method} {case.formatted_path}"
                failures.append(f"{where}: {response.status_code} {response.text[:200]}")

        exercise()
    assert operations >= 40
    assert not failures, "\n".join(failures[:20])
