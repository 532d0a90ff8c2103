"""A transcript with its timings: what a parsed WebVTT/SRT file or a transcription service
gives, and what highlight detection and burned-in captions read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Word:
    """One spoken word and when it is said (seconds from the start of the source)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Segment:
    """A stretch of speech (a cue): its text, its times, and its words when they are known."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """A source's speech in time order; `language` is a BCP 47 tag when known."""

    segments: tuple[Segment, ...]
    language: str | None = None

    def between(self, start: float, end: float) -> tuple[Segment, ...]:
        """The segments that overlap [start, end)."""
        return tuple(s for s in self.segments if s.end > start and s.start < end)

    @property
    def text(self) -> str:
        """Everything said, the segments' texts joined by spaces."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def to_json(self) -> dict[str, Any]:
        """The transcript as stored (a column, a file): words as [start, end, text]."""
        return {
            "language": self.language,
            "segments": [
                {
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "words": [[w.start, w.end, w.text] for w in s.words],
                }
                for s in self.segments
            ],
        }

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> Transcript:
        """A transcript `to_json` stored."""
        segments = tuple(
            Segment(s["start"], s["end"], s["text"], tuple(Word(*w) for w in s.get("words", [])))
            for s in stored["segments"]
        )
        return cls(segments, stored.get("language"))
