"""A transcript reduced to per-second signals: how many words are spoken, and keyword hits."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from crosspost.domain.transcripts import Segment, Transcript

_TOKEN = re.compile(r"\w+(?:'\w+)*")


@dataclass(frozen=True)
class Hit:
    """A keyword (as the caller wrote it) said at `time` seconds."""

    keyword: str
    time: float


@dataclass(frozen=True)
class Speech:
    """`words[i]` is the number of words spoken in second i; `hits` are in time order."""

    words: tuple[int, ...]
    hits: tuple[Hit, ...]


def tokens(text: str) -> list[str]:
    """The words of `text`, lower-cased, punctuation dropped ("It's" stays one word)."""
    return _TOKEN.findall(text.casefold())


def _timed_tokens(segment: Segment) -> Iterator[tuple[str, float]]:
    """Each word of the segment with when it is said; without word timings, the segment's
    words are spread evenly over its time."""
    if segment.words:
        for word in segment.words:
            for token in tokens(word.text):
                yield token, word.start
        return
    spoken = tokens(segment.text)
    span = max(segment.end - segment.start, 0.0)
    for index, token in enumerate(spoken):
        yield token, segment.start + span * index / len(spoken)


def read_speech(transcript: Transcript, keywords: Sequence[str], seconds: int) -> Speech:
    """Per-second word counts over `seconds` cells and every keyword (or phrase) hit."""
    words = [0] * seconds
    timed = [pair for segment in transcript.segments for pair in _timed_tokens(segment)]
    timed.sort(key=lambda pair: pair[1])
    for _, time in timed:
        if 0 <= time < seconds:
            words[int(time)] += 1
    phrases = [(keyword, tokens(keyword)) for keyword in keywords]
    spoken = [token for token, _ in timed]
    hits = []
    for index, (_, time) in enumerate(timed):
        for keyword, phrase in phrases:
            if phrase and spoken[index : index + len(phrase)] == phrase:
                hits.append(Hit(keyword, time))
    return Speech(tuple(words), tuple(hits))
