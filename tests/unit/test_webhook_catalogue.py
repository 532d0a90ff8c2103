"""The webhook event catalogue: every type documented with a schema and a valid example,
filter patterns matched and validated, and the catalogue in the OpenAPI document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from crosspost.api.routes.webhooks import install_openapi_webhooks
from crosspost.errors import InvalidInput
from crosspost.webhooks.catalogue import (
    EVENT_TYPES,
    MAX_PATTERNS,
    matches,
    validate_patterns,
    validate_payload,
)
from crosspost.webhooks.feed import read_scope
from crosspost.webhooks.outbox import event_body

# The list, plus the notice sent when an endpoint is disabled, and the two target
# states a follower must hear of because they do not end by themselves soon (issue 13).
EXPECTED = {
    "post.created",
    "post.scheduled",
    "post.published",
    "post.partially_published",
    "post.failed",
    "post.cancelled",
    # Editing a post (issue 16).
    "post.edited",
    "target.uploading",
    "target.published",
    "target.failed",
    "target.unconfirmed",
    "target.waiting",
    "target.needs_reauth",
    # Taking a published post down (issue 16).
    "target.deleted",
    "post.deleted",
    # How a post performed (issue 16, seed 004).
    "post.metrics_updated",
    "account.connected",
    "account.needs_reauth",
    "account.disconnected",
    "account.quota_exhausted",
    "usage.threshold",
    "data_export.ready",
    # A clip's render finished or failed (seed 000 calls renders exports).
    "export.ready",
    "export.failed",
    # The content pipeline's recaps (issue 18, seed 002).
    "content.generated",
    "content.pr_opened",
    # Every long-running request's end (issue 18, seed 002's job webhooks).
    "job.completed",
    "job.failed",
    "distribution.status_changed",
    "distribution.live",
    "distribution.failed",
    "webhook.test",
    "endpoint.disabled",
}


def test_the_catalogue_lists_exactly_the_documented_types() -> None:
    """Nothing missing, nothing extra."""
    assert set(EVENT_TYPES) == EXPECTED
    for name, event_type in EVENT_TYPES.items():
        assert event_type.name == name
        assert event_type.description.strip(), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_example_fits_its_model_exactly(name: str) -> None:
    """The example parses, and serialises back to itself: no member missing, unknown or of
    the wrong type."""
    event_type = EVENT_TYPES[name]
    payload = event_type.example_payload()
    parsed = event_type.payload_model.model_validate(payload)
    dumped = parsed.model_dump(mode="json")
    assert dumped["type"] == name
    assert dumped["data"] == payload["data"]
    assert datetime.fromisoformat(dumped["timestamp"]) == datetime.fromisoformat(
        payload["timestamp"]
    )
    assert type(validate_payload(json.dumps(payload))) is event_type.payload_model


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_model_refuses_a_payload_missing_a_member(name: str) -> None:
    """The check above can fail: drop any member of `data` and validation refuses it."""
    event_type = EVENT_TYPES[name]
    for member in event_type.example:
        payload = event_type.example_payload()
        del payload["data"][member]
        with pytest.raises(ValidationError):
            event_type.payload_model.model_validate(payload)
    wrong_type = {**event_type.example_payload(), "type": "post.nothing"}
    with pytest.raises(ValidationError):
        event_type.payload_model.model_validate(wrong_type)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_schema_describes_the_envelope(name: str) -> None:
    """A self-contained JSON Schema of `{type, timestamp, data}` with the type pinned."""
    schema = EVENT_TYPES[name].json_schema()
    json.dumps(schema)  # serialisable as published
    assert set(schema["required"]) == {"type", "timestamp", "data"}
    assert schema["properties"]["type"]["const"] == name
    assert schema["properties"]["timestamp"]["format"] == "date-time"
    for ref in _refs(schema):
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_examples_validate_against_the_published_json_schema() -> None:
    """What receivers get is what the schema says (checked by an independent validator)."""
    jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="installed with schemathesis")
    for event_type in EVENT_TYPES.values():
        validator = jsonschema_rs.validator_for(event_type.json_schema())
        assert validator.is_valid(event_type.example_payload()), event_type.name
        assert not validator.is_valid({**event_type.example_payload(), "data": {}})


def test_what_the_outbox_writes_validates() -> None:
    """The outbox's body for a test event has the catalogue's shape."""
    body = event_body(
        "webhook.test",
        {"endpoint_id": "whep_1", "message": "hello"},
        datetime(2026, 3, 1, 12, 0, 5, 120_000, tzinfo=UTC),
    )
    event = validate_payload(body)
    assert event.model_dump(mode="json")["data"] == {"endpoint_id": "whep_1", "message": "hello"}
    with pytest.raises(ValueError, match="unknown event type"):
        validate_payload(event_body("export.done", {}, datetime(2026, 1, 1, tzinfo=UTC)))
    with pytest.raises(ValidationError):
        validate_payload(event_body("webhook.test", {"message": "x"}, datetime.now(UTC)))
    with pytest.raises(ValueError, match="JSON object"):
        validate_payload("[1, 2]")


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        ([], "post.published", True),
        ([], "endpoint.disabled", True),
        (["*"], "target.failed", True),
        (["post.*"], "post.published", True),
        (["post.*"], "post.partially_published", True),
        (["post.*"], "target.published", False),
        (["post.*"], "postal.sent", False),
        (["target.failed"], "target.failed", True),
        (["target.failed"], "target.published", False),
        (["target.failed", "account.*"], "account.needs_reauth", True),
        (["target.failed", "account.*"], "usage.threshold", False),
        (["post.published"], "post.published_late", False),
    ],
)
def test_matches(patterns: list[str], event_type: str, expected: bool) -> None:
    """Exact names, `*` and prefix wildcards; an empty filter receives everything."""
    assert matches(patterns, event_type) is expected


def test_valid_patterns_pass() -> None:
    """Known names, `*` and prefix wildcards that match something."""
    validate_patterns([])
    validate_patterns(["*"])
    validate_patterns(["post.*", "target.*", "account.*", "usage.*", "webhook.*", "endpoint.*"])
    validate_patterns(sorted(EXPECTED))


@pytest.mark.parametrize(
    ("patterns", "says"),
    [
        (["post.publish"], "'post.publish' is not an event type"),
        (["export.done"], "'export.done' is not an event type"),
        (["exports.*"], "'exports.*' matches no event type"),
        (["*.failed"], "not a supported wildcard"),
        (["post*"], "not a supported wildcard"),
        (["post.**"], "not a supported wildcard"),
        (["post.*.*"], "not a supported wildcard"),
        ([""], "not a non-empty string"),
        ([3], "not a non-empty string"),
        (["x" * 65], "longer than 64 characters"),
        (["post.published"] * (MAX_PATTERNS + 1), f"at most {MAX_PATTERNS} patterns"),
    ],
)
def test_bad_patterns_are_refused_with_the_valid_list(patterns: list[Any], says: str) -> None:
    """422 `invalid_event_types`, saying what is wrong and listing every valid type."""
    with pytest.raises(InvalidInput) as caught:
        validate_patterns(patterns)
    error = caught.value
    assert error.code == "invalid_event_types"
    assert says in error.detail
    assert error.extra["valid_event_types"] == sorted(EXPECTED)
    assert "post.published" in error.detail and "target.unconfirmed" in error.detail


def test_the_openapi_document_carries_every_event_type() -> None:
    """One `webhooks` entry per type: its body schema, an example that is the catalogue's,
    and the signature headers."""
    app = FastAPI()
    install_openapi_webhooks(app)
    document = app.openapi()
    assert document["openapi"].startswith("3.1")
    hooks = document["webhooks"]
    assert set(hooks) == EXPECTED
    schemas = document["components"]["schemas"]
    for name, entry in hooks.items():
        operation = entry["post"]
        content = operation["requestBody"]["content"]["application/json"]
        ref = content["schema"]["$ref"].removeprefix("#/components/schemas/")
        assert schemas[ref]["properties"]["type"]["const"] == name
        assert content["examples"]["example"]["value"] == EVENT_TYPES[name].example_payload()
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert "422" not in operation["responses"]
    # Each event model is its own component, never merged with another's.
    assert len(
        {
            e["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            for e in hooks.values()
        }
    ) == len(EXPECTED)


def test_every_event_type_has_the_scope_that_reads_it_in_the_feed() -> None:
    """A type the feed cannot scope would fail every feed read that names no types."""
    for name in EVENT_TYPES:
        assert read_scope(name) in {"posts:read", "usage:read", "webhooks:write"}, name
