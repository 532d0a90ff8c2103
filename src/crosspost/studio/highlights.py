"""Highlight detection: the moments of a source worth clipping, ranked, with their reasons.

The source is decoded once (`signals`) into per-second loudness, motion and cuts; a
transcript adds words per second and keyword hits (`speech`). Each second gets an
interest between 0 and 1, a weighted mix of how far each signal stands out in this
source; windows are then picked greedily: the best `min_seconds` stretch not yet taken,
widened rightwards up to `max_seconds` while the next second is at least half as
interesting as the window. The result is a pure function of the file and the arguments:
the same file gives the same clips.

A source shorter than `min_seconds` gives one candidate covering all of it (the whole
source is the only clip it has); otherwise every candidate lasts between `min_seconds`
and `max_seconds`, and there are fewer than `count` (even none) when fewer stretches of
the source stand out: a window with nothing above the source's usual is not proposed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from crosspost.domain.transcripts import Transcript
from crosspost.studio.signals import SILENCE_LUFS, HighlightError, Signals, read_signals
from crosspost.studio.speech import Hit, Speech, read_speech

__all__ = ["Candidate", "HighlightError", "detect_highlights"]

MAX_COUNT = 100
MIN_SOURCE_SECONDS = 1.0
# Each signal's weight in a second's interest; a source without the signal drops it.
_WEIGHTS = {
    "loudness": 1.0,
    "rise": 0.5,
    "cuts": 0.8,
    "motion": 0.6,
    "speech": 0.6,
    "keywords": 1.2,
}
_LOUD_FROM_LU = 2.0  # above the source's typical loudness, loudness starts to count...
_LOUD_FULL_LU = 10.0  # ...and counts fully from here
_RISE_SECONDS = 3  # a rise is measured against the quietest of the seconds before
_CUT_REACH = 2  # a cut makes the seconds around it lively too
_KEYWORD_REACH = 2  # a keyword's context: the seconds around it
_MOTION_FLOOR = 0.01  # changes below 1% of the picture are noise, not motion
_WORDS_FULL = 3.0  # words per second of fast, dense speech
_EXTEND_RATIO = 0.5  # a window widens while its neighbour is half as interesting
_MIN_SCORE = 0.02  # below this a window has nothing that stands out
# What a reason needs to be worth saying.
_REASON_LU = 6.0
_REASON_MOTION = 0.5
_REASON_WORDS = 2.0


@dataclass(frozen=True)
class Candidate:
    """A proposed clip: seconds from the start of the source, a score in [0, 1], and why."""

    start: float
    end: float
    score: float
    reasons: tuple[str, ...]


def detect_highlights(
    path: str | Path,
    *,
    min_seconds: float = 15.0,
    max_seconds: float = 60.0,
    count: int = 5,
    transcript: Transcript | None = None,
    keywords: Sequence[str] = (),
    progress: Callable[[float, float], None] | None = None,
) -> list[Candidate]:
    """Rank up to `count` non-overlapping clips of `path`, best first; raises HighlightError.

    `keywords` (words or phrases, any case) are looked for in `transcript`; without a
    transcript they are ignored. `progress(seconds_done, seconds_total)` is called as
    decoding advances, last with both equal to the source's duration.
    """
    if not (0 < min_seconds <= max_seconds) or not math.isfinite(max_seconds):
        raise HighlightError(
            f"clip bounds must satisfy 0 < min_seconds <= max_seconds; got {min_seconds} "
            f"and {max_seconds}",
            code="invalid_bounds",
        )
    if not 1 <= count <= MAX_COUNT:
        raise HighlightError(
            f"count must be between 1 and {MAX_COUNT}; got {count}", code="invalid_count"
        )
    signals = read_signals(Path(path), progress)
    if signals.duration < MIN_SOURCE_SECONDS:
        raise HighlightError(
            f"the source lasts {signals.duration:.2f} s; highlight detection needs at least "
            f"{MIN_SOURCE_SECONDS:g} s of audio or video (a still image has none)",
            code="too_short",
        )
    cells = max(math.ceil(signals.duration), 1)
    speech = None
    if transcript is not None:
        wanted = [k.strip() for k in keywords if k.strip()]
        speech = read_speech(transcript, wanted, cells)
    scored = _Scored(signals, speech)
    if signals.duration < min_seconds:
        return [scored.candidate(0, cells, 0.0, signals.duration)]
    return scored.pick(min_seconds, max_seconds, count)


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _spread(points: Sequence[int], cells: int, reach: int) -> list[float]:
    """How many `points` (cell indexes) lie within `reach` of each cell."""
    near = [0.0] * cells
    for point in points:
        for index in range(max(point - reach, 0), min(point + reach + 1, cells)):
            near[index] += 1
    return near


def _filled(values: Sequence[float | None]) -> list[float]:
    """Gaps (seconds not measured) take the last measured value, or the next one."""
    known = [v for v in values if v is not None]
    last = known[0] if known else 0.0
    out = []
    for value in values:
        last = value if value is not None else last
        out.append(last)
    return out


class _Scored:
    """Per-second interest of one source, and the windows and reasons built on it."""

    def __init__(self, signals: Signals, speech: Speech | None) -> None:
        self.signals, self.speech = signals, speech
        self.cells = max(math.ceil(signals.duration), 1)
        self.parts: dict[str, list[float]] = {}
        self.loudness: list[float] = []
        self.reference = SILENCE_LUFS
        if signals.loudness is not None:
            self._score_loudness(list(signals.loudness[: self.cells]))
        if signals.motion is not None and signals.cuts is not None:
            self._score_picture(_filled(signals.motion[: self.cells]), signals.cuts)
        if speech is not None:
            self._score_speech(speech)
        total = sum(_WEIGHTS[name] for name in self.parts) or 1.0
        self.interest = [
            sum(_WEIGHTS[name] * part[i] for name, part in self.parts.items()) / total
            for i in range(self.cells)
        ]

    def _score_loudness(self, loudness: list[float]) -> None:
        self.loudness = loudness
        heard = [v for v in loudness if v > SILENCE_LUFS]
        self.reference = statistics.median(heard) if heard else SILENCE_LUFS
        span = _LOUD_FULL_LU - _LOUD_FROM_LU
        self.parts["loudness"] = [
            _clip((v - self.reference - _LOUD_FROM_LU) / span) for v in loudness
        ]
        self.parts["rise"] = [
            _clip((self._rise(i) - _LOUD_FROM_LU) / span) for i in range(len(loudness))
        ]

    def _rise(self, index: int) -> float:
        before = self.loudness[max(index - _RISE_SECONDS, 0) : index]
        return self.loudness[index] - min(before) if before else 0.0

    def _score_picture(self, motion: list[float], cuts: Sequence[int]) -> None:
        ordered = sorted(motion)
        typical = ordered[len(ordered) // 2]
        busy = ordered[min(len(ordered) * 9 // 10, len(ordered) - 1)]
        scale = max(busy - typical, _MOTION_FLOOR)
        self.parts["motion"] = [_clip((m - typical) / scale) for m in motion]
        points = [i for i, c in enumerate(cuts[: self.cells]) for _ in range(c)]
        self.parts["cuts"] = [_clip(n / 2) for n in _spread(points, self.cells, _CUT_REACH)]

    def _score_speech(self, speech: Speech) -> None:
        self.parts["speech"] = [_clip(w / _WORDS_FULL) for w in speech.words]
        points = [int(hit.time) for hit in speech.hits if hit.time < self.cells]
        self.parts["keywords"] = [_clip(n) for n in _spread(points, self.cells, _KEYWORD_REACH)]

    def pick(self, min_seconds: float, max_seconds: float, count: int) -> list[Candidate]:
        """Greedy: the best free window of the minimum length, widened, until `count`."""
        shortest = math.ceil(min_seconds)
        longest = max(math.floor(max_seconds), shortest)
        # A window may start at second s when s + min_seconds still lies within the source.
        last_start = math.floor(self.signals.duration - min_seconds + 1e-9)
        prefix = [0.0]
        for value in self.interest:
            prefix.append(prefix[-1] + value)
        taken: list[tuple[int, int]] = []
        found: list[Candidate] = []
        while len(found) < count:
            best: tuple[float, int] | None = None
            for low, high in self._gaps(taken):
                for start in range(low, min(high - shortest, last_start) + 1):
                    total = prefix[min(start + shortest, self.cells)] - prefix[start]
                    if best is None or total > best[0]:
                        best = (total, start)
            if best is None or best[0] < _MIN_SCORE * shortest:
                break
            start = best[1]
            low, high = next((lo, hi) for lo, hi in self._gaps(taken) if lo <= start < hi)
            stop = self._widen(start, min(start + shortest, self.cells), low, high, longest)
            end = min(float(stop), self.signals.duration, start + max_seconds)
            end = max(end, start + min_seconds)
            taken.append((start, math.ceil(end)))
            found.append(self.candidate(start, stop, float(start), end))
        return sorted(found, key=lambda c: (-c.score, c.start))

    def _gaps(self, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
        gaps, cursor = [], 0
        for start, stop in sorted(taken):
            if start > cursor:
                gaps.append((cursor, start))
            cursor = max(cursor, stop)
        if cursor < self.cells:
            gaps.append((cursor, self.cells))
        return gaps

    def _widen(self, start: int, stop: int, low: int, high: int, longest: int) -> int:
        """Grow [start, stop) to the right while the next second keeps up with the window.

        Only rightwards: the window's start is where its best stretch begins, so a clip
        opens on the moment rather than on the build-up before it.
        """
        while stop - start < longest and stop < min(high, self.cells):
            mean = sum(self.interest[start:stop]) / (stop - start)
            if self.interest[stop] <= 0 or self.interest[stop] < _EXTEND_RATIO * mean:
                break
            stop += 1
        return stop

    def candidate(self, first: int, stop: int, start: float, end: float) -> Candidate:
        """The candidate for cells [first, stop), timed [start, end), with its reasons."""
        stop = min(max(stop, first + 1), self.cells)
        score = sum(self.interest[first:stop]) / (stop - first)
        found = [self._loudness_reason, self._cut_reason, self._motion_reason]
        found += [self._speech_reason, self._keyword_reason]
        reasons = [reason for make in found for reason in make(first, stop)]
        reasons.sort(key=lambda r: (-r[0], r[1]))
        return Candidate(
            start=round(start, 3),
            end=round(end, 3),
            score=round(score, 4),
            reasons=tuple(text for _, text in reasons),
        )

    def _weight(self, name: str, first: int, stop: int) -> float:
        part = self.parts.get(name)
        return _WEIGHTS[name] * sum(part[first:stop]) / (stop - first) if part else 0.0

    def _loudness_reason(self, first: int, stop: int) -> list[tuple[float, str]]:
        if not self.loudness:
            return []
        window = self.loudness[first:stop]
        peak = max(range(len(window)), key=lambda i: (window[i], -i))
        above = window[peak] - self.reference
        if above >= _REASON_LU and self.reference > SILENCE_LUFS:
            weight = self._weight("loudness", first, stop)
            return [(weight, f"loudness peak +{above:.0f} LU at {_clock(first + peak)}")]
        rise = max(range(first, stop), key=lambda i: (self._rise(i), -i))
        if self._rise(rise) >= _REASON_LU:
            weight = self._weight("rise", first, stop)
            return [(weight, f"loudness jumps +{self._rise(rise):.0f} LU at {_clock(rise)}")]
        return []

    def _cut_reason(self, first: int, stop: int) -> list[tuple[float, str]]:
        cuts = self.signals.cuts
        if cuts is None:
            return []
        at = [i for i in range(first, stop) for _ in range(cuts[i])]
        weight = self._weight("cuts", first, stop)
        if len(at) >= 2:
            return [(weight, f"{len(at)} scene cuts in {at[-1] - at[0] + 1} s")]
        if at:
            return [(weight, f"scene cut at {_clock(at[0])}")]
        return []

    def _motion_reason(self, first: int, stop: int) -> list[tuple[float, str]]:
        part = self.parts.get("motion")
        if part is None:
            return []
        busy = [i for i in range(first, stop) if part[i] >= _REASON_MOTION]
        if len(busy) < 2:
            return []
        text = f"strong motion for {len(busy)} s from {_clock(busy[0])}"
        return [(self._weight("motion", first, stop), text)]

    def _speech_reason(self, first: int, stop: int) -> list[tuple[float, str]]:
        if self.speech is None:
            return []
        rate = sum(self.speech.words[first:stop]) / (stop - first)
        if rate < _REASON_WORDS:
            return []
        return [(self._weight("speech", first, stop), f"dense speech, {rate:.1f} words/s")]

    def _keyword_reason(self, first: int, stop: int) -> list[tuple[float, str]]:
        if self.speech is None:
            return []
        by_keyword: dict[str, list[Hit]] = {}
        for hit in self.speech.hits:
            if first <= hit.time < stop:
                by_keyword.setdefault(hit.keyword, []).append(hit)
        weight = self._weight("keywords", first, stop)
        reasons = []
        for keyword, hits in by_keyword.items():
            times = f"x{len(hits)} from" if len(hits) > 1 else "at"
            reasons.append((weight, f"keyword “{keyword}” {times} {_clock(hits[0].time)}"))
        return reasons
