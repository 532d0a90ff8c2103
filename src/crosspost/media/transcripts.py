"""Subtitle files (WebVTT, SRT) read into a `Transcript`, and a `Transcript` written as either.

Parsing goes through webvtt-py and pysrt, after a scan of our own that finds every cue timing
line: the libraries drop (webvtt-py, non-strict) or zero (pysrt) what they cannot read and never
say on which line, and a user fixing a file needs the line. Markup (<b>, <i>, <c>, voice spans,
{\\an8}) is stripped, as are ruby readings (<rt>) and invisible bidi controls (&lrm;, U+202B…);
WebVTT's inline timestamps (``<00:00:01.500>``) become word timings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pysrt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from crosspost.domain.transcripts import Segment, Transcript, Word

TranscriptFormat = Literal["vtt", "srt"]
FORMATS: tuple[TranscriptFormat, ...] = ("vtt", "srt")
MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024  # a 3 h talk's SRT is ~300 KB; 5 MB is generous
# A 6-hour stream at one cue every 1.2 s. The byte cap alone lets through ~150,000 tiny cues,
# which webvtt-py takes 10-19 s over, so the cues are counted before either library sees them.
MAX_CUES = 20_000

_VTT_TIME = r"(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}"
_SRT_TIME = r"\d{1,}:[0-5]?\d:[0-5]?\d[,.]\d{1,3}"
_TIMING = {
    "vtt": re.compile(rf"\s*({_VTT_TIME})[ \t]*-->[ \t]*({_VTT_TIME})(?:[ \t]|$)"),
    "srt": re.compile(rf"\s*({_SRT_TIME})[ \t]*-->[ \t]*({_SRT_TIME})(?:[ \t]|$)"),
}
_EXAMPLE = {"vtt": "00:00:01.000 --> 00:00:04.000", "srt": "00:00:01,000 --> 00:00:04,000"}
_INLINE_TIME = re.compile(rf"{_VTT_TIME}")
_TAG = re.compile(r"<[^>]*>")
_ASS_TAG = re.compile(r"\{\\[^}]*\}")  # SRT files made from ASS keep {\an8}-style overrides
_SUFFIXES: dict[str, TranscriptFormat] = {".vtt": "vtt", ".webvtt": "vtt", ".srt": "srt"}
# A ruby reading (<rt>, and HTML's <rp> fallback parentheses) up to its end tag; WebVTT also
# ends an <rt> at its </ruby>, HTML at the next <rt>/<rp>, and an unclosed one runs to the end.
_RUBY_TEXT = re.compile(
    r"<(rt|rp)(?:[ \t\n.][^>]*)?>.*?(?:</\1[ \t\n]*>|(?=</ruby[ \t\n]*>|<r[tp][ \t\n.>])|\Z)",
    re.IGNORECASE | re.DOTALL,
)
# Unicode's Bidi_Control characters: LRM/RLM/ALM marks, embeddings, overrides and isolates.
_BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
# SRT has no character references, but files converted from WebVTT keep these two literally.
_SRT_BIDI_ENTITY = re.compile(r"&(?:lrm|rlm);", re.IGNORECASE)


class TranscriptError(ValueError):
    """A subtitle file we cannot use; `code` is stable, the message says where and what to fix.

    Codes: ``transcript_too_large`` (over the byte or cue limit), ``transcript_unreadable`` (not
    text, not WebVTT/SRT, or a malformed cue), ``transcript_empty`` (no cue has text),
    ``transcript_times`` (a cue ends before it starts, cues out of time order, an inline
    timestamp outside its cue).
    """

    def __init__(self, code: str, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line


@dataclass(frozen=True)
class _Cue:
    """One cue as read, before cleaning: `number` counts cues from 1, `line` is its timing line."""

    number: int
    line: int | None
    start: float
    end: float
    raw_text: str


def read_transcript(
    path: Path,
    *,
    format: TranscriptFormat | None = None,
    max_bytes: int = MAX_TRANSCRIPT_BYTES,
    max_cues: int = MAX_CUES,
) -> Transcript:
    """Read a subtitle file; the suffix (.vtt/.srt) is the format hint when none is given."""
    size = path.stat().st_size
    if size > max_bytes:
        raise _too_large(size, max_bytes)
    return parse_transcript(
        path.read_bytes(),
        format=format or _SUFFIXES.get(path.suffix.lower()),
        max_bytes=max_bytes,
        max_cues=max_cues,
    )


def parse_transcript(
    data: bytes | str,
    *,
    format: TranscriptFormat | None = None,
    max_bytes: int = MAX_TRANSCRIPT_BYTES,
    max_cues: int = MAX_CUES,
) -> Transcript:
    """Parse WebVTT or SRT; the content decides (a WEBVTT header, SRT's numbered cues) and
    `format` only breaks a tie. Raises TranscriptError."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise _too_large(len(raw), max_bytes)
    text = _decode(raw)
    _check_cue_count(text, max_cues)
    kind = detect_format(text, format)
    cues, language = _read_vtt(text) if kind == "vtt" else (_read_srt(text), None)
    return Transcript(_segments(cues, kind), language=language)


def detect_format(text: str, hint: TranscriptFormat | None = None) -> TranscriptFormat:
    """ "vtt" for a WEBVTT header, "srt" for a first cue shaped like SRT's, else the hint."""
    if text.startswith("WEBVTT"):
        return "vtt"
    lines = [line.strip() for line in text.split("\n") if line.strip()][:2]
    if len(lines) == 2 and lines[0].isdigit() and _TIMING["srt"].match(lines[1]):
        return "srt"
    if len(lines) >= 1 and _TIMING["srt"].match(lines[0]) and "," in lines[0]:
        return "srt"  # SRT without its cue numbers, which players accept too
    if hint is not None:
        return hint
    raise TranscriptError(
        "transcript_unreadable",
        "this is neither WebVTT (its first line would be 'WEBVTT') nor SRT (a cue number, then "
        f"a line like '{_EXAMPLE['srt']}'): upload a .vtt or .srt subtitle file",
        line=1,
    )


# -- reading ---------------------------------------------------------------------------------


def _too_large(size: int, limit: int) -> TranscriptError:
    return TranscriptError(
        "transcript_too_large",
        f"the subtitle file is {size} bytes, over the {limit}-byte limit: "
        "split it or remove styling and comments",
    )


def _check_cue_count(text: str, limit: int) -> None:
    """Refuse more than `limit` cues, counted as lines holding '-->' (every cue has one such
    timing line, and any other line with '-->' is refused later as a broken timing line)."""
    if text.count("-->") <= limit:  # one C-speed pass; a line with two arrows is rare
        return
    count = sum(1 for line in text.split("\n") if "-->" in line)
    if count > limit:
        raise TranscriptError(
            "transcript_too_large",
            f"the subtitle file has {count} cues, over the {limit}-cue limit: split it into "
            f"files of at most {limit} cues, or export it with longer cues (a sentence each, "
            "not a word each)",
        )


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _not_text(exc, "UTF-16") from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _not_text(exc, "UTF-8") from None
    if "\x00" in text:
        raise TranscriptError(
            "transcript_unreadable",
            "the file holds NUL bytes, so it is not a text subtitle file: upload a .vtt or .srt",
        )
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _not_text(exc: UnicodeDecodeError, encoding: str) -> TranscriptError:
    line = exc.object[: exc.start].count(b"\n") + 1
    return TranscriptError(
        "transcript_unreadable",
        f"line {line}: byte 0x{exc.object[exc.start]:02x} (at offset {exc.start}) is not "
        f"{encoding} text: save the subtitle file as UTF-8",
        line=line,
    )


def _timing_lines(text: str, kind: TranscriptFormat) -> list[int]:
    """1-based numbers of the cue timing lines; raises on a line with '-->' that is not one."""
    found: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if "-->" not in line:
            continue
        if not _TIMING[kind].match(line):
            name = "WebVTT" if kind == "vtt" else "SRT"
            raise TranscriptError(
                "transcript_unreadable",
                f"line {number}: {line.strip()[:80]!r} is not a {name} cue timing line: "
                f"write it as '{_EXAMPLE[kind]}'",
                line=number,
            )
        found.append(number)
    return found


def _read_vtt(text: str) -> tuple[list[_Cue], str | None]:
    if not re.match(r"WEBVTT(?:[ \t]|\n|$)", text):
        raise TranscriptError(
            "transcript_unreadable",
            "line 1: a WebVTT file must start with the line 'WEBVTT': add it, or upload SRT",
            line=1,
        )
    lines = _timing_lines(text, "vtt")
    try:
        parsed = webvtt.from_string(text, strict=True)
    except (MalformedCaptionError, MalformedFileError) as exc:
        raise TranscriptError(
            "transcript_unreadable",
            f"a WebVTT block is malformed ({exc}): each cue is an optional id, a timing line "
            f"like '{_EXAMPLE['vtt']}', its text, then an empty line",
        ) from None
    captions: Sequence[Any] = parsed.captions
    cues = [
        _Cue(
            number=index + 1,
            line=lines[index] if len(lines) == len(captions) else None,
            start=caption.start_time.in_milliseconds() / 1000,
            end=caption.end_time.in_milliseconds() / 1000,
            raw_text=caption.raw_text,
        )
        for index, caption in enumerate(captions)
    ]
    language = None
    for item in getattr(parsed, "metadata", None) or []:
        name, _, value = str(item).partition(":")
        if name.strip().lower() == "language" and value.strip():
            language = value.strip()
    return cues, language


def _read_srt(text: str) -> list[_Cue]:
    lines = _timing_lines(text, "srt")
    try:
        items = list(pysrt.from_string(text, error_handling=pysrt.ERROR_RAISE))
    except pysrt.Error as exc:
        raise TranscriptError(
            "transcript_unreadable",
            f"an SRT cue is malformed ({exc}): each cue is its number, a timing line like "
            f"'{_EXAMPLE['srt']}', its text, then an empty line",
        ) from None
    return [
        _Cue(
            number=index + 1,
            line=lines[index] if len(lines) == len(items) else None,
            start=item.start.ordinal / 1000,
            end=item.end.ordinal / 1000,
            raw_text=str(item.text),
        )
        for index, item in enumerate(items)
    ]


def _where(cue: _Cue) -> str:
    return f"cue {cue.number}" + (f" (line {cue.line})" if cue.line else "")


def _segments(cues: list[_Cue], kind: TranscriptFormat) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    previous: _Cue | None = None
    for cue in cues:
        if cue.end < cue.start:
            raise TranscriptError(
                "transcript_times",
                f"{_where(cue)} ends at {_clock(cue.end, kind)}, before it starts at "
                f"{_clock(cue.start, kind)}: correct its end time",
                line=cue.line,
            )
        if previous is not None and cue.start < previous.start:
            raise TranscriptError(
                "transcript_times",
                f"{_where(cue)} starts at {_clock(cue.start, kind)}, before {_where(previous)} "
                f"at {_clock(previous.start, kind)}: cues must be in time order, so sort them",
                line=cue.line,
            )
        previous = cue
        if kind == "vtt":
            text, words = _vtt_text(cue)
        else:
            text, words = _srt_text(cue.raw_text), ()
        if text:
            segments.append(Segment(cue.start, cue.end, text, words))
    if not segments:
        raise TranscriptError(
            "transcript_empty",
            "the file has no cue with text: export the subtitles again with their text",
        )
    return tuple(segments)


def _visible(text: str) -> str:
    """`text` without bidi control characters, which are invisible and only confuse search,
    word counts and captions burned in by renderers that do not apply them."""
    return text.translate(_BIDI_CONTROLS)


def _srt_text(raw: str) -> str:
    """An SRT cue's text without ruby readings, tags, ASS overrides and bidi controls."""
    text = _TAG.sub("", _RUBY_TEXT.sub("", raw))
    return _plain(_visible(_SRT_BIDI_ENTITY.sub("", _ASS_TAG.sub("", text))))


def _plain(text: str) -> str:
    """Whitespace runs made single spaces within each line; empty lines dropped."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _vtt_text(cue: _Cue) -> tuple[str, tuple[Word, ...]]:
    """The cue's text without markup, and its words when it has inline timestamps."""
    raw = _RUBY_TEXT.sub("", cue.raw_text)
    groups: list[tuple[float, list[str]]] = [(cue.start, [])]
    timed = False
    position = 0
    for match in _TAG.finditer(raw):
        groups[-1][1].append(raw[position : match.start()])
        position = match.end()
        tag = match.group()[1:-1].strip()
        if _INLINE_TIME.fullmatch(tag):
            at = _seconds(tag)
            if not cue.start <= at <= cue.end or at < groups[-1][0]:
                raise TranscriptError(
                    "transcript_times",
                    f"{_where(cue)}: the inline timestamp <{tag}> is outside the cue "
                    f"({_clock(cue.start, 'vtt')} --> {_clock(cue.end, 'vtt')}) or earlier "
                    "than the one before it: inline timestamps must rise within their cue",
                    line=cue.line,
                )
            timed = True
            groups.append((at, []))
    groups[-1][1].append(raw[position:])
    text = _plain(
        _visible(html.unescape("".join(piece for _, pieces in groups for piece in pieces)))
    )
    if not timed:
        return text, ()
    words: list[Word] = []
    for index, (start, pieces) in enumerate(groups):
        end = groups[index + 1][0] if index + 1 < len(groups) else cue.end
        tokens = _visible(html.unescape("".join(pieces))).split()
        step = (end - start) / len(tokens) if tokens else 0.0
        words += [
            Word(round(start + k * step, 3), round(start + (k + 1) * step, 3), token)
            for k, token in enumerate(tokens)
        ]
    return text, tuple(words)


def _seconds(stamp: str) -> float:
    parts = stamp.split(":")
    hours = int(parts[0]) if len(parts) == 3 else 0
    return hours * 3600 + int(parts[-2]) * 60 + float(parts[-1])


# -- writing ---------------------------------------------------------------------------------


def _clock(seconds: float, kind: TranscriptFormat) -> str:
    """HH:MM:SS.mmm (WebVTT) or HH:MM:SS,mmm (SRT); hours grow past two digits if need be."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    mark = "." if kind == "vtt" else ","
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{mark}{millis:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(transcript: Transcript, *, word_timestamps: bool = False) -> str:
    """The transcript as a WebVTT file; `word_timestamps` writes each known word's start as an
    inline timestamp (karaoke-style captions), which `parse_transcript` reads back."""
    out = ["WEBVTT"]
    if transcript.language:
        out.append(f"Language: {transcript.language}")
    out.append("")
    for segment in transcript.segments:
        text = _plain(segment.text)
        if not text and not segment.words:
            continue
        out.append(f"{_clock(segment.start, 'vtt')} --> {_clock(segment.end, 'vtt')}")
        if word_timestamps and segment.words:
            out.append(_timed_words(segment))
        else:
            out += [_vtt_escape(line) for line in text.split("\n")]
        out.append("")
    return "\n".join(out)


def _timed_words(segment: Segment) -> str:
    """The words with inline timestamps, clamped into the cue and never going back, so the
    file stays valid even where a provider put a word's start a little outside its segment."""
    spoken: list[str] = []
    at = segment.start
    for word in segment.words:
        start = min(max(word.start, at), segment.end)
        stamp = f"<{_clock(start, 'vtt')}>" if start > segment.start or spoken else ""
        spoken.append(stamp + _vtt_escape(word.text))
        at = start
    return " ".join(spoken)


# SRT has no escape for '<', and our reader (like players, for <b>/<i>/<u>/<font>) takes any
# '<...>' for a tag and drops it. So a '<' that some later '>' would close becomes U+FF1C
# FULLWIDTH LESS-THAN SIGN, which reads the same and is markup to nobody; a '<' nothing closes
# ('1 < 2') stays as written. '&lt;' would show literally in every player, and a zero-width
# character after the '<' leaves an invisible character in the text (and a tag to lenient
# players). Likewise '{' opening an ASS override ('{\\an8}') becomes U+FF5B FULLWIDTH LEFT CURLY
# BRACKET, and the '>' of a '-->' in text becomes U+FF1E (a line with '-->' would be a broken
# timing line: our reader refuses the file, players drop the cue); that comes first, so such a
# '>' no longer closes an earlier '<'.
def _srt_safe(text: str) -> str:
    """`text` changed just enough that reading it back finds no markup and no timing line."""
    text = text.replace("-->", "--\uff1e")
    close = text.rfind(">")  # every '<' before the last '>' opens what the reader takes for a tag
    text = text[:close].replace("<", "\uff1c") + text[close:] if close > 0 else text
    close = text.rfind("}")
    return text[:close].replace("{\\", "\uff5b\\") + text[close:] if close > 0 else text


def to_srt(transcript: Transcript) -> str:
    """The transcript as an SRT file (cues numbered from 1; word timings are not kept)."""
    out: list[str] = []
    number = 0
    for segment in transcript.segments:
        text = _plain(segment.text)
        if not text:
            continue  # an empty SRT cue ends at its timing line and confuses players
        number += 1
        out += [
            str(number),
            f"{_clock(segment.start, 'srt')} --> {_clock(segment.end, 'srt')}",
            _srt_safe(text),
            "",
        ]
    return "\n".join(out)


__all__ = [
    "FORMATS",
    "MAX_CUES",
    "MAX_TRANSCRIPT_BYTES",
    "TranscriptError",
    "TranscriptFormat",
    "detect_format",
    "parse_transcript",
    "read_transcript",
    "to_srt",
    "to_webvtt",
]
