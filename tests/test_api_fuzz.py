"""The API against its own OpenAPI document, with schemathesis: for inputs generated from the
schema (valid and invalid), the node never answers 5xx, refuses invalid input, and every answer
matches what the document says (status codes, content types, headers, response bodies).

Every operation gets a bounded number of generated cases; a failure names the operation and
what schemathesis found, and every operation's failures are reported together.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from fixtures_node import running_chain
from gridledger.api import ApiServer

EXAMPLES = int(os.environ.get("GRIDLEDGER_FUZZ_EXAMPLES", "25"))
"""Generated cases per operation (about 40 operations: a few seconds in all)."""


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    with running_chain(home) as chain, ApiServer(chain.node) as server:
        tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 5})
        chain.node.submit_tx(tx)
        assert chain.node.wait_for_height(1, 10)
        yield schemathesis.openapi.from_url(server.url + "/openapi.json")


def test_the_api_keeps_to_its_schema_and_never_fails(api_schema: schemathesis.BaseSchema) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        if operation.label == "GET /v1/events":
            continue  # an endless event stream (its answers are tested in test_api.py)

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: schemathesis.Case) -> None:
            wait = (case.query or {}).get("wait")
            if isinstance(wait, int | float) and wait > 0.2:
                case.query["wait"] = 0.2  # a receipt wait is honoured, up to 60 s: keep it short
            # every check but one: a schema-valid transaction may still be refused (a bad
            # signature is a well-formed string), so valid-looking data need not be accepted
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert failures == [], "\n\n".join(failures)
