"""When each burned-in caption shows: a transcript cut into pages that fit the style's lines,
timed from word timings when there are any (else spread over the cue by length), and one
cue per highlighted word when word highlighting is on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crosspost.domain.transcripts import Segment, Transcript
from crosspost.studio.render_spec import CaptionStyle


@dataclass(frozen=True)
class CaptionPage:
    """The text on screen at once: lines of words; times are seconds into the clip."""

    start: float
    end: float
    lines: tuple[tuple[str, ...], ...]
    word_starts: tuple[float, ...] = ()  # one per word, in reading order, when timed


@dataclass(frozen=True)
class CaptionCue:
    """One caption image: a page, with word number `highlight` (reading order) painted."""

    start: float
    end: float
    page: CaptionPage
    highlight: int | None = None


def wrap(words: Sequence[str], max_chars: int) -> list[tuple[str, ...]]:
    """Greedy lines of at most `max_chars` characters (a longer word gets a line alone)."""
    lines: list[tuple[str, ...]] = []
    line: list[str] = []
    length = 0
    for word in words:
        added = len(word) + (1 if line else 0)
        if line and length + added > max_chars:
            lines.append(tuple(line))
            line, length, added = [], 0, len(word)
        line.append(word)
        length += added
    if line:
        lines.append(tuple(line))
    return lines


def _segment_pages(segment: Segment, style: CaptionStyle) -> list[CaptionPage]:
    """Pages in source time; timed by words when the segment has them."""
    timed = [w for w in segment.words if w.text.strip()]
    words = [w.text.strip() for w in timed] if timed else segment.text.split()
    if not words:
        return []
    lines = wrap(words, style.max_chars_per_line)
    chunks = [lines[i : i + style.max_lines] for i in range(0, len(lines), style.max_lines)]
    pages: list[CaptionPage] = []
    first = 0
    total_chars = sum(len(word) for word in words)
    chars_before = 0
    for chunk in chunks:
        count = sum(len(line) for line in chunk)
        if timed:
            starts = tuple(w.start for w in timed[first : first + count])
            start = starts[0]
            after = first + count
            end = timed[after].start if after < len(timed) else max(segment.end, timed[-1].end)
        else:
            starts = ()
            chars = sum(len(word) for line in chunk for word in line)
            span = segment.end - segment.start
            start = segment.start + span * chars_before / total_chars
            end = segment.start + span * (chars_before + chars) / total_chars
            chars_before += chars
        pages.append(CaptionPage(start, end, tuple(chunk), starts))
        first += count
    return pages


def caption_cues(
    transcript: Transcript, clip_start: float, clip_end: float, style: CaptionStyle
) -> list[CaptionCue]:
    """The caption changes over the clip, in order and never overlapping (clip time)."""
    length = clip_end - clip_start
    cues: list[CaptionCue] = []
    for segment in transcript.between(clip_start, clip_end):
        for source_page in _segment_pages(segment, style):
            start = max(source_page.start - clip_start, 0.0)
            end = min(source_page.end - clip_start, length)
            if end <= start:
                continue
            starts = tuple(max(s - clip_start, start) for s in source_page.word_starts)
            page = CaptionPage(start, end, source_page.lines, starts)
            cues.extend(_page_cues(page, highlight=style.highlight_color is not None))
    cues.sort(key=lambda cue: cue.start)
    # Overlapping cues (a transcript's own overlaps) give way to the later one.
    kept: list[CaptionCue] = []
    for cue, following in zip(cues, [*cues[1:], None], strict=True):
        end = min(cue.end, following.start) if following is not None else cue.end
        if end > cue.start:
            kept.append(CaptionCue(cue.start, end, cue.page, cue.highlight))
    return kept


def _page_cues(page: CaptionPage, *, highlight: bool) -> list[CaptionCue]:
    if not highlight or not page.word_starts:
        return [CaptionCue(page.start, page.end, page)]
    cues = []
    bounds = [*page.word_starts[1:], page.end]
    for index, (start, end) in enumerate(zip(page.word_starts, bounds, strict=True)):
        # A word's highlight lasts until the next word starts, so it never flickers off.
        begin = page.start if index == 0 else start
        if end > begin:
            cues.append(CaptionCue(begin, end, page, index))
    return cues


class CueTrack:
    """The cue showing at each time, asked in increasing time order (one pass)."""

    def __init__(self, cues: Sequence[CaptionCue]) -> None:
        self._cues = cues
        self._next = 0

    def at(self, time: float) -> CaptionCue | None:
        """The cue covering `time` (seconds into the clip), or None between cues."""
        while self._next < len(self._cues) and self._cues[self._next].end <= time:
            self._next += 1
        if self._next < len(self._cues) and self._cues[self._next].start <= time:
            return self._cues[self._next]
        return None
