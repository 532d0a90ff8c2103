"""The one-line view of an event in `crosspost webhooks listen`: every type of the catalogue
has a summary, and an event this CLI does not know (a newer server's type or member) is
still one line, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from crosspost.cli.event_lines import line, summary
from crosspost.webhooks.catalogue import EVENT_TYPES


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_catalogued_event_has_a_summary(event_type: str) -> None:
    """The catalogue's example of each type: date and time, type, id and a few words."""
    event = {"id": "msg_1", **EVENT_TYPES[event_type].example_payload()}
    words = summary(event, sandbox=True)
    assert words and "None" not in words, words
    shown = line(event, sandbox=True)
    assert shown.split("  ")[1:3] == [event_type, "msg_1"] and shown.endswith(words)
    assert shown[:4].isdigit() and "\n" not in shown


@pytest.mark.parametrize(
    "event",
    [
        {"id": "msg_1", "type": "thing.new", "timestamp": "not a time", "data": {"x": 1}},
        {"id": "msg_2", "type": "post.created", "timestamp": "2026-03-01T12:00:00Z",
         "data": {"post": "not an object"}},
        {"id": "msg_3", "type": "target.failed", "data": None},
        {"id": "msg_4", "type": "target.waiting", "timestamp": "2026-03-01T12:00:00Z",
         "data": {"target": {"status": "waiting", "next_attempt_at": "soon"}}},
    ],
)  # fmt: skip
def test_an_event_it_does_not_know_is_still_one_line(event: dict[str, Any]) -> None:
    """Unknown types, odd members, a missing timestamp: one line with the type and id."""
    shown = line(event)
    assert "\n" not in shown and f"  {event['type']}  {event['id']}  " in shown
