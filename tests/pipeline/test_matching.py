"""Temporal matching: which GitHub events count for a clip, and how confidently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crosspost.pipeline.matching import context, distinctive_words, match_clip, summary

CLIP = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=60)


def _event(minutes: float, title: str, *, repo: str = "dev/app", kind: str = "commit",
           event_id: str = "") -> dict[str, Any]:  # fmt: skip
    return {"id": event_id or f"ghe_{minutes}", "occurred_at": CLIP + timedelta(minutes=minutes),
            "title": title, "repository": repo, "kind": kind, "ref": "1", "action": "pushed",
            "url": "https://github.com/dev/app", "author": "dev"}  # fmt: skip


def test_only_events_inside_the_window_count_and_the_clip_itself_is_closest() -> None:
    """Before the start or after the end by at most the window; during the clip is best."""
    events = [_event(-61, "too early"), _event(-30, "half an hour before"),
              _event(0.2, "during the clip"), _event(30.6, "after the end"),
              _event(62, "too late")]  # fmt: skip
    found = match_clip(clip_start=CLIP, clip_seconds=60, transcript="", events=events,
                       window=WINDOW)  # fmt: skip
    assert [m.event["title"] for m in found] == [
        "during the clip",
        "after the end",
        "half an hour before",
    ]
    assert found[0].seconds_from_clip == 0.0
    assert found[1].seconds_from_clip == 30.6 * 60 - 60
    assert 0 < found[-1].confidence < found[0].confidence <= 1


def test_words_said_in_the_clip_raise_the_confidence() -> None:
    """Of two events as close, the one whose title the streamer talked about ranks first,
    and the words said are reported."""
    events = [_event(10, "Refactor the render queue", event_id="a"),
              _event(10, "Fix flaky oauth refresh test", event_id="b")]  # fmt: skip
    said = "so the OAuth refresh was racing, the test kept failing"
    found = match_clip(clip_start=CLIP, clip_seconds=30, window=WINDOW, events=events,
                       transcript=said)  # fmt: skip
    assert found[0].event["id"] == "b"
    assert found[0].words_said == ("oauth", "refresh", "test")
    assert found[0].confidence > found[1].confidence


def test_an_unlinked_repository_counts_for_less() -> None:
    """The same event in a repository the channel is not linked to scores lower."""
    events = [_event(5, "Ship it", repo="dev/app", event_id="a"),
              _event(5, "Ship it", repo="someone/else", event_id="b")]  # fmt: skip
    found = match_clip(clip_start=CLIP, clip_seconds=30, transcript="", events=events,
                       window=WINDOW, linked=frozenset({"dev/app"}))  # fmt: skip
    assert [m.event["id"] for m in found] == ["a", "b"]
    assert round(found[0].confidence - found[1].confidence, 4) == 0.1


def test_summary_and_context_describe_the_matches() -> None:
    """The summary counts by kind and lists the best; the context keeps every match."""
    events = [_event(1, "Add the recap template"), _event(2, "Recap PR", kind="pull_request")]
    found = match_clip(clip_start=CLIP, clip_seconds=30, transcript="recap", events=events,
                       window=WINDOW)  # fmt: skip
    text = summary(found)
    assert text.startswith("2 GitHub events around this clip (1 commit, 1 pull request).")
    assert "Add the recap template" in text
    assert [e["title"] for e in context(found)["events"]] == [m.event["title"] for m in found]
    assert summary([]) == "No GitHub activity around this clip."
    assert distinctive_words("Fix the OAuth refresh") == {"oauth", "refresh"}
