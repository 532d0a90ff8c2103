"""A transcript with its timings: what a parsed WebVTT/SRT file or a transcription service
gives, and what highlight detection and burned-in captions read."""

from __future__ import annotations

from dataclasses import dataclass


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
