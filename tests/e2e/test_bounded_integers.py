"""Every integer the API accepts is bounded to what the database stores: the OpenAPI
document states each range, a value outside it is a 422 naming the field and the range, and
no integer (body, query or header) can overflow a column, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import math
import pkgutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from crosspost.api import routes
from crosspost.api.openapi_bounds import keep_integer_bounds
from crosspost.domain.bounds import INT64_MAX, INT64_MIN
from crosspost.store.tables import api_analytics
from crosspost.usage.metering import MAX_MINUTES_LIMIT
from tests.e2e.conftest import Stack, expect_problem

_NUMERIC = {"integer", "number"}


def _numbers(
    node: Any, where: str, schemas: dict[str, Any], seen: frozenset[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) of every integer or number schema under `node`, through $refs."""
    if isinstance(node, list):
        for item in node:
            yield from _numbers(item, where, schemas, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            yield from _numbers(schemas[name], where, schemas, seen | {name})
        return
    kind = node.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if kinds & _NUMERIC:
        yield where, node
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for name, member in value.items():
                yield from _numbers(member, f"{where}.{name}", schemas, seen)
        elif key not in ("examples", "example", "default", "enum"):
            yield from _numbers(value, where, schemas, seen)


def _accepted_numbers(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every number a request can carry: parameters and request bodies of every operation."""
    schemas = document.get("components", {}).get("schemas", {})
    found: dict[str, dict[str, Any]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{label} {parameter['in']} {parameter['name']}"
                for at, schema in _numbers(
                    parameter.get("schema", {}), where, schemas, frozenset()
                ):
                    found[at] = schema
            content = (operation.get("requestBody") or {}).get("content", {})
            for media_type, body in content.items():
                where = f"{label} body({media_type})"
                found.update(_numbers(body.get("schema", {}), where, schemas, frozenset()))
    return found


def test_every_integer_the_api_accepts_states_its_range(stack: Stack) -> None:
    """Walks the served OpenAPI document: each integer or number a request can carry has an
    integral minimum and maximum within a signed 64-bit column (so a field added later
    without a bound fails here)."""
    document = httpx.get(f"{stack.api_url}/openapi.json", timeout=30).json()
    found = _accepted_numbers(document)
    assert "PUT /v1/usage/quotas body(application/json).hard_limit" in found, sorted(found)
    assert "GET /v1/media/{media_id}/content query expires" in found, sorted(found)
    unbounded = {where: schema for where, schema in found.items() if not _bounded(schema)}
    assert not unbounded, unbounded


def _bounded(schema: dict[str, Any]) -> bool:
    choices = schema.get("enum")
    if choices:  # a closed set of integers (`fold`: 0 or 1) is bounded by its members
        return all(isinstance(c, int) and INT64_MIN <= c <= INT64_MAX for c in choices)
    if schema.get("type") == "number":
        # A float column holds any finite double: only a stated, finite range is asked for.
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        return all(isinstance(v, int | float) and math.isfinite(v) for v in (low, high))
    low, high = schema.get("minimum"), schema.get("maximum")
    return isinstance(low, int) and isinstance(high, int) and INT64_MIN <= low <= high <= INT64_MAX


def test_routes_left_out_of_the_document_are_bounded_too() -> None:
    """Every router of crosspost.api.routes, published or not (the internal one is not),
    documented together: a range on every integer too."""
    probe = FastAPI()
    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        probe.include_router(module.router)
    keep_integer_bounds(probe)
    found = _accepted_numbers(probe.openapi())
    assert "POST /internal/credentials/update-token body(application/json).expires_in" in found
    unbounded = [where for where, schema in found.items() if not _bounded(schema)]
    assert not unbounded, unbounded


def test_a_quota_past_bigint_is_a_422_naming_the_field_and_range(stack: Stack) -> None:
    """The fuzzer's 10000000000000000001 (a 500 before) and 2**63 are refused with the
    field's range and store nothing; 2**63 - 1 is stored and counted against."""
    for too_big in (10000000000000000001, INT64_MAX + 1):
        body = expect_problem(
            stack.http.put("/v1/usage/quotas", json={"metric": "posts", "hard_limit": too_big}),
            422,
            "validation_error",
        )
        assert body["detail"] == f"hard_limit: must be a whole number from 0 to {INT64_MAX}"
        assert body["errors"][0]["field"] == "hard_limit"
    assert stack.http.get("/v1/usage/quotas").json()["data"] == []
    largest = {"metric": "posts", "soft_limit": INT64_MAX, "hard_limit": INT64_MAX}
    stored = stack.http.put("/v1/usage/quotas", json=largest)
    assert stored.status_code == 200, stored.text
    post = stack.http.post("/v1/posts", json={"text": "counted", "targets": ["x"]})
    assert post.status_code == 201, post.text
    quota = stack.http.get("/v1/usage/quotas").json()["data"][0]
    assert quota == {**largest, "key_id": None, "set_by": "tenant", "used": 1}


def test_media_minutes_limits_are_bounded_in_milliseconds(stack: Stack, tmp_path: Path) -> None:
    """media_minutes is counted in milliseconds: a limit whose milliseconds pass 64 bits is
    a 422 naming the metric's own range; the largest allowed one still meters an upload."""
    body = expect_problem(
        stack.http.put(
            "/v1/usage/quotas", json={"metric": "media_minutes", "hard_limit": INT64_MAX}
        ),
        422,
        "invalid_quota",
    )
    assert f"hard_limit must be a whole number from 0 to {MAX_MINUTES_LIMIT}" in body["detail"]
    largest = {"metric": "media_minutes", "hard_limit": MAX_MINUTES_LIMIT}
    assert stack.http.put("/v1/usage/quotas", json=largest).status_code == 200
    stack.upload_video(tmp_path, seconds=1.0)
    used = stack.http.get("/v1/usage/quotas").json()["data"][0]["used"]
    assert used > 0


def _raw(stack: Stack, request: bytes) -> bytes:
    host, port = stack.api_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def _wait(what: str, read: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := read()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
    return value


def test_a_content_length_past_64_bits_overflows_no_counter(
    make_stack: Callable[..., Stack],
) -> None:
    """Content-Length 2**64 - 1 (the HTTP parser takes it) is refused as too large, and the
    request's analytics row is written with a length a BIGINT holds: before, that row failed
    every analytics write from then on, for every tenant."""
    stack = make_stack(workers=0, analytics_flush_seconds=0.05)
    for path, kind in (("/v1/posts", "application/json"), ("/v1/media", "video/mp4")):
        answer = _raw(
            stack,
            f"POST {path} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {stack.key}\r\n"
            f"Content-Type: {kind}\r\nContent-Length: {2**64 - 1}\r\n\r\n".encode(),
        )
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
        assert f"{2**64 - 1} bytes".encode() in answer
    assert stack.http.get("/v1/posts").status_code == 200

    def rows() -> list[Any]:
        with stack.svc.db.read() as conn:
            return list(
                conn.execute(sa.select(api_analytics.c.endpoint, api_analytics.c.request_bytes))
            )

    found = _wait("the analytics rows", lambda: len(rows()) >= 3 and rows())
    assert sorted(size for _, size in found) == [0, INT64_MAX, INT64_MAX], found
