"""Fuzz the whole OpenAPI surface over real HTTP (bounded examples): no 5xx, and every
error is RFC 9457 problem+json with a stable code."""

from __future__ import annotations

import os

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Stack

EXAMPLES = int(os.environ.get("CROSSPOST_FUZZ_EXAMPLES", "25"))


def test_no_operation_fails_or_answers_an_unexplained_error(stack: Stack) -> None:
    """For every operation, whatever the input: an answer below 500, and each error is
    problem+json whose `status` matches and which names a `code`."""
    document = httpx.get(f"{stack.api_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    seen: set[str] = set()

    for operation in operations:

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
            headers = dict(case.headers or {})
            # Most examples carry our key, some none at all: both sides must hold up.
            if data.draw(st.booleans()) or not headers:
                headers["Authorization"] = f"Bearer {stack.key}"
            response = case.call(base_url=stack.api_url, headers=headers, timeout=30)
            label = f"{case.method} {case.path}"
            seen.add(label)
            assert response.status_code < 500, (label, response.text[:500])
            if response.status_code >= 400:
                # schemathesis keeps every value of a header: {name: [values]}.
                kind = (response.headers.get("content-type") or [""])[0]
                assert kind.startswith("application/problem+json"), (label, kind, response.text)
                body = response.json()
                assert body["status"] == response.status_code and body["code"], (label, body)

        fuzz()
    assert len(seen) == len(operations)
