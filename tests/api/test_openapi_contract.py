"""The OpenAPI document against the live service: schemathesis generates requests for every operation
from the schema, sends them with a bearer token of each role and checks that no answer is a server
error and that every status, content type and body is the one the document promises.

Bounded on purpose (a few derandomized examples per operation, no shrinking) so that it runs in the
ordinary suite. Excluded, and why:

* ``payment_webhook``: it takes only bodies signed with the provider's HMAC secret; anything
  schemathesis can make is a 400 (``test_shop_payments`` covers it, ``simulate_payment`` signs
  real ones and is tested here).
* WebSocket routes are not in the OpenAPI document at all (``docs/websocket-protocol.md``).

``sign_in`` is tested, with random user names: the service below gets sign-in limits no test run
reaches, so that the failures it provokes from 127.0.0.1 cannot lock out the demo accounts (5 failures
per account, 50 per address within 300 s by default) the tokens are taken from.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from tests.api.conftest import Live, start_live

ROLES = {"customer": "alice", "courier": "courier-1", "store": "store-s1", "planner": "planner", "admin": "admin"}
EXCLUDED = {"payment_webhook"}
EXAMPLES = 5
CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance, st_checks.content_type_conformance,
          st_checks.response_schema_conformance]


@pytest.fixture(scope="module")
def service(redis_url: str) -> Iterator[Live]:
    live, stop = start_live(redis_url, signin_account_failures=1_000_000, signin_address_failures=1_000_000)
    try:
        yield live
    finally:
        stop()


@pytest.fixture(scope="module")
def schema(service: Live) -> Any:
    return schemathesis.openapi.from_url(f"{service.base}/openapi.json")


def operations(schema: Any) -> list[Any]:
    out = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.definition.raw.get("operationId") not in EXCLUDED:
            out.append(op)
    return out


def exercise(op: Any, base: str, headers: dict[str, str], mode: GenerationMode) -> None:
    @given(case=op.as_strategy(mode))
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=15)

    run()


@pytest.mark.parametrize("role", list(ROLES))
def test_every_operation_answers_as_the_openapi_document_says(service: Live, schema: Any, role: str) -> None:
    headers = service.headers(ROLES[role])
    ops = operations(schema)
    assert len(ops) > 30  # the document was read, and nothing but the exclusions is left out
    failures = []
    for op in ops:
        # valid input (the schema's examples, then generated), and invalid input, which must be a documented 4xx
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(op, service.base, headers, mode)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, op.label  # nothing it takes can be invalid (a free string in the path)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation's failures are collected, then reported
                failures.append(f"{mode.value} {op.method.upper()} {op.path}: {exc}"[:3000])
    assert not failures, f"{len(failures)} operations break the contract as {role}:\n\n" + "\n\n".join(failures)


def test_the_document_promises_the_error_body_sent_and_the_constraints_checked_in_code() -> None:
    from api.app import create_app
    from api.settings import Settings

    doc = create_app(Settings(redis_url="redis://unused")).openapi()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    error = {"$ref": "#/components/schemas/ErrorDetail"}
    create = doc["paths"]["/orders"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "422", "503"} <= set(create)
    assert all(create[s]["content"]["application/json"]["schema"] == error for s in create if s[0] in "45")
    assert "429" in doc["paths"]["/auth/token"]["post"]["responses"]
    params = {p["name"]: p["schema"] for p in doc["paths"]["/shop/search"]["get"]["parameters"]}
    assert (params["q"]["minLength"], params["q"]["maxLength"]) == (1, 100)
    limit = next(p["schema"] for p in doc["paths"]["/orders"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["minimum"], limit["maximum"]) == (1, 500)
    lat = next(p["schema"] for p in doc["paths"]["/shop/stores"]["get"]["parameters"] if p["name"] == "lat")
    assert (lat["minimum"], lat["maximum"]) == (-90, 90)
    assert "409" in doc["paths"]["/orders/{order_id}/complaints"]["post"]["responses"]
