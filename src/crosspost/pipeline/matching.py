"""Temporal matching (seed 002): the GitHub activity around a clip, each with a confidence.

An event counts when it happened within the pipeline's window of the clip (before its start
or after its end). Its confidence weighs three things: how close in time (1 at the clip,
falling linearly to 0 at the window's edge), whether its words were said in the clip (the
share of its title's distinctive words found in the transcript), and whether its
repository is one the channel is linked to (always so for events a pipeline holds, unless
the caller says otherwise). Deterministic for the same inputs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

_TIME_WEIGHT, _WORDS_WEIGHT, _LINK_WEIGHT = 0.6, 0.3, 0.1
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]")
# Words too common in titles and speech to say anything about a match.
_STOP_WORDS = (
    "a an and are as at be but by fix fixed fixes for from has have in into is it its of on "
    "or the this that to up use was were will with add added adds update updated remove "
    "removed make made more new now not one out so some than then there when where which "
    "who why how what"
)
_STOP = frozenset(_STOP_WORDS.split())
SUMMARY_EVENTS = 5  # events named in an item's short summary


@dataclass(frozen=True)
class Match:
    """One event matched to a clip."""

    event: Mapping[str, Any]
    confidence: float
    seconds_from_clip: float
    words_said: tuple[str, ...]


def distinctive_words(text: str) -> set[str]:
    """The lower-cased words of `text` that could tell one topic from another."""
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOP}


def match_clip(
    *,
    clip_start: datetime,
    clip_seconds: float,
    transcript: str,
    events: Sequence[Mapping[str, Any]],
    window: timedelta,
    linked: frozenset[str] | None = None,
) -> list[Match]:
    """The events within `window` of the clip, best first (ties by time, then id)."""
    clip_end = clip_start + timedelta(seconds=clip_seconds)
    spoken = distinctive_words(transcript)
    span = window.total_seconds()
    found: list[Match] = []
    for event in events:
        at: datetime = event["occurred_at"]
        if at < clip_start:
            distance = (clip_start - at).total_seconds()
        elif at > clip_end:
            distance = (at - clip_end).total_seconds()
        else:
            distance = 0.0
        if distance > span:
            continue
        closeness = 1.0 - distance / span if span else 1.0
        words = distinctive_words(str(event["title"]))
        said = tuple(sorted(words & spoken))
        share = len(said) / len(words) if words else 0.0
        is_linked = linked is None or str(event["repository"]).lower() in linked
        confidence = (
            _TIME_WEIGHT * closeness + _WORDS_WEIGHT * share + _LINK_WEIGHT * float(is_linked)
        )
        found.append(Match(event, round(confidence, 4), distance, said))
    found.sort(key=lambda m: (-m.confidence, m.seconds_from_clip, str(m.event["id"])))
    return found


def summary(matches: Sequence[Match]) -> str:
    """Seed 002's `github_summary`: the counts and the best few events, one line each."""
    if not matches:
        return "No GitHub activity around this clip."
    kinds: dict[str, int] = {}
    for match in matches:
        kind = str(match.event["kind"])
        kinds[kind] = kinds.get(kind, 0) + 1
    counts = ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n > 1 else ''}"
                       for k, n in sorted(kinds.items()))  # fmt: skip
    lines = [f"{len(matches)} GitHub events around this clip ({counts})."]
    for match in matches[:SUMMARY_EVENTS]:
        event = match.event
        lines.append(
            f"- {event['kind'].replace('_', ' ')} {event['action']}: {event['title']} "
            f"({event['repository']}, confidence {match.confidence:.2f})"
        )
    return "\n".join(lines)


def context(matches: Sequence[Match]) -> dict[str, Any]:
    """Seed 002's full GitHub context, as stored beside the item."""
    return {
        "events": [
            {
                "id": m.event["id"],
                "repository": m.event["repository"],
                "kind": m.event["kind"],
                "ref": m.event["ref"],
                "action": m.event["action"],
                "title": m.event["title"],
                "url": m.event["url"],
                "author": m.event["author"],
                "occurred_at": m.event["occurred_at"].isoformat(),
                "confidence": m.confidence,
                "seconds_from_clip": m.seconds_from_clip,
                "words_said": list(m.words_said),
            }
            for m in matches
        ]
    }
