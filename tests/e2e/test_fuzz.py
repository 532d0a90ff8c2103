"""Fuzz the whole OpenAPI surface over real HTTP (bounded examples): no 5xx, and every
error is RFC 9457 problem+json with a stable code."""

from __future__ import annotations

import os
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from tests.e2e.conftest import Stack

EXAMPLES = int(os.environ.get("CROSSPOST_FUZZ_EXAMPLES", "25"))
_MULTIPART = "multipart/form-data"
_JSON = "application/json"

# Inputs an outside fuzzing campaign answered with a 500: replayed before every run's
# generated cases, so they stay covered whatever the generator draws.
SEEDS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("PUT", "/v1/usage/quotas"): [
        {"body": {"metric": "posts", "hard_limit": 10000000000000000001}, "media_type": _JSON},
        {"body": {"metric": "media_minutes", "hard_limit": 2**63 - 1}, "media_type": _JSON},
    ],
    ("POST", "/v1/media"): [
        # schemathesis frames a body that is not an object as one raw part: the body was
        # `--B\r\n[[[], {}], None]--B--\r\n`.
        {"body": "[[[], {}], None]", "media_type": _MULTIPART},
        {"body": {"file": b"\x00" * 64, "file2": b"x"}, "media_type": _MULTIPART},
    ],
}


# Answers that never end by themselves (Server-Sent Events): only their head is read, and
# the whole body of a refusal.
_STREAMS = {"GET /v1/events/stream"}


def _check_stream(case: schemathesis.Case, base_url: str, headers: dict[str, str]) -> None:
    sent = case.as_transport_kwargs(base_url=base_url, headers=headers)
    label = f"{case.method} {case.path}"
    with httpx.stream(
        sent["method"], sent["url"], params=sent.get("params"), headers=sent["headers"], timeout=30
    ) as response:
        assert response.status_code < 500, label
        if response.status_code < 400:
            assert response.headers["content-type"].startswith("text/event-stream"), label
            return
        response.read()
    assert response.headers["content-type"].startswith("application/problem+json"), label
    body = response.json()
    assert body["status"] == response.status_code and body["code"], (label, body)


# A tus PATCH's body is bytes, as application/octet-stream's.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def test_no_operation_fails_or_answers_an_unexplained_error(stack: Stack) -> None:
    """For every operation, whatever the input, valid by the schema or not (negative
    mode: out-of-range integers, wrong types, malformed multipart): an answer below 500,
    and each error is problem+json whose `status` matches and which names a `code`."""
    document = httpx.get(f"{stack.api_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    seen: set[str] = set()
    sent: dict[str, set[str]] = {}

    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        # As schemathesis's own runner draws with both modes configured: either, per case.
        strategy = st.one_of(
            operation.as_strategy(),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=strategy, with_key=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case, with_key: bool) -> None:
            # A field value's surrounding whitespace is not part of it (RFC 9110 5.5), and
            # h11 refuses to send it: generated auth headers such as "Bearer " lose it.
            headers = {k: v.strip() for k, v in (case.headers or {}).items()}
            # Most examples carry our key, some none at all: both sides must hold up.
            if with_key or not headers:
                headers["Authorization"] = f"Bearer {stack.key}"
            label = f"{case.method} {case.path}"
            seen.add(label)
            sent.setdefault(label, set()).add(case.media_type or "")
            if label in _STREAMS:
                _check_stream(case, stack.api_url, headers)
                return
            response = case.call(base_url=stack.api_url, headers=headers, timeout=30)
            assert response.status_code < 500, (label, response.text[:500])
            if response.status_code >= 400 and case.method.upper() != "HEAD":  # HEAD: no body
                # schemathesis keeps every value of a header: {name: [values]}.
                kind = (response.headers.get("content-type") or [""])[0]
                assert kind.startswith("application/problem+json"), (label, kind, response.text)
                body = response.json()
                assert body["status"] == response.status_code and body["code"], (label, body)

        for seed in SEEDS.get((operation.method.upper(), operation.path), []):
            fuzz = example(case=operation.Case(**seed), with_key=True)(fuzz)
        fuzz()
        assert label in seen, label
    assert len(seen) == len(operations)
    assert _MULTIPART in sent["POST /v1/media"], sent["POST /v1/media"]
