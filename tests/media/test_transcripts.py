"""Subtitle files read into transcripts, refused with a precise reason, and written back."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosspost.domain.transcripts import Segment, Transcript, Word
from crosspost.media import transcripts as transcripts_module
from crosspost.media.transcripts import (
    MAX_CUES,
    TranscriptError,
    detect_format,
    parse_transcript,
    read_transcript,
    to_srt,
    to_webvtt,
)

VTT = """WEBVTT
Kind: captions
Language: en

NOTE made by hand

intro
00:00:01.000 --> 00:00:02.500 align:start position:10%
<v Roger Bingham>We are in <b>New York</b> &amp; it's <i>cold</i>

00:00:03.000 --> 00:00:06.000
<c.yellow>Second</c> line
and a wrapped one
"""

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Hello</i> {\\an8}there

2
00:00:03,000 --> 00:00:04,000
<font color="#ff0000">Red</font> words
"""


def refusal(data: bytes | str, **kwargs: object) -> TranscriptError:
    """The TranscriptError parsing `data` raises."""
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(data, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_webvtt_cues_become_segments_without_markup() -> None:
    """Voice spans, classes, bold and entities are stripped; times, lines and language kept."""
    transcript = parse_transcript(VTT.encode())
    assert transcript.language == "en"
    assert transcript.segments == (
        Segment(1.0, 2.5, "We are in New York & it's cold"),
        Segment(3.0, 6.0, "Second line\nand a wrapped one"),
    )


def test_srt_cues_become_segments_without_markup() -> None:
    """<i>, <font> and ASS overrides ({\\an8}) are stripped from SRT text."""
    transcript = parse_transcript(SRT)
    assert [(s.start, s.end, s.text) for s in transcript.segments] == [
        (1.0, 2.5, "Hello there"),
        (3.0, 4.0, "Red words"),
    ]
    assert transcript.language is None


def test_inline_timestamps_give_word_timings() -> None:
    """Each word starts at the timestamp before it; words between two stamps share the gap."""
    vtt = (
        "WEBVTT\n\n00:00:10.000 --> 00:00:14.000\n"
        "So<00:00:10.500><c> here</c><00:00:11.000><c> we go</c>\n"
    )
    segment = parse_transcript(vtt).segments[0]
    assert segment.text == "So here we go"
    assert segment.words == (
        Word(10.0, 10.5, "So"),
        Word(10.5, 11.0, "here"),
        Word(11.0, 12.5, "we"),
        Word(12.5, 14.0, "go"),
    )


def test_crlf_bom_and_utf16_are_read() -> None:
    """Windows line ends, a UTF-8 BOM and UTF-16 files parse like plain UTF-8."""
    crlf = ("\ufeff" + SRT).replace("\n", "\r\n").encode()
    assert parse_transcript(crlf).segments[0].text == "Hello there"
    assert parse_transcript(VTT.encode("utf-16")).segments[1].start == 3.0


def test_format_comes_from_content_then_hint() -> None:
    """A WEBVTT header wins over an srt hint; a hint decides only when the content cannot."""
    assert detect_format(VTT, "srt") == "vtt"
    assert detect_format(SRT, "vtt") == "srt"
    assert detect_format("00:00:01,000 --> 00:00:02,000\nhi\n") == "srt"
    assert detect_format("\n\nsomething", "vtt") == "vtt"
    error = refusal("hello there")
    assert error.code == "transcript_unreadable" and "WEBVTT" in error.message


def test_vtt_hint_without_header_names_the_fix() -> None:
    """A .vtt without its WEBVTT line is refused at line 1, saying to add it."""
    error = refusal("00:00:01.000 --> 00:00:02.000\nhi\n", format="vtt")
    assert error.code == "transcript_unreadable" and error.line == 1
    assert "'WEBVTT'" in error.message


def test_malformed_timing_line_names_its_line() -> None:
    """A broken timing line is reported with its line number and the expected shape."""
    error = refusal("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:00:03.000 --> 00:04\nx\n")
    assert error.line == 6 and "00:00:01.000 --> 00:00:04.000" in error.message
    error = refusal("1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:0x,000 --> 00:00:04,000\nb\n")
    assert error.line == 6 and "SRT cue timing line" in error.message


def test_end_before_start_is_refused() -> None:
    """A cue ending before it starts names the cue, its line and both times."""
    error = refusal("1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:05,000 --> 00:00:04,000\nb\n")
    assert error.code == "transcript_times" and error.line == 6
    assert "cue 2 (line 6) ends at 00:00:04,000, before it starts at 00:00:05,000" in error.message


def test_cues_out_of_order_are_refused() -> None:
    """A cue starting before the previous one's start is refused; overlapping cues are not."""
    overlapping = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\na\n\n00:00:02.000 --> 00:00:03.000\nb\n"
    assert len(parse_transcript(overlapping).segments) == 2
    swapped = "WEBVTT\n\n00:00:05.000 --> 00:00:06.000\na\n\n00:00:01.000 --> 00:00:02.000\nb\n"
    error = refusal(swapped)
    assert error.code == "transcript_times" and error.line == 6
    assert "time order" in error.message


def test_inline_timestamp_outside_its_cue_is_refused() -> None:
    """An inline timestamp past the cue's end (or going back) is a timing error."""
    error = refusal("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi <00:00:03.000>there\n")
    assert error.code == "transcript_times" and error.line == 3
    assert "<00:00:03.000>" in error.message
    backwards = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\na <00:00:03.000>b <00:00:02.000>c\n"
    assert refusal(backwards).code == "transcript_times"


def test_file_without_text_is_empty() -> None:
    """Cues that hold only markup or whitespace leave nothing: transcript_empty."""
    assert refusal("WEBVTT\n\n").code == "transcript_empty"
    assert refusal("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<b> </b>\n").code == "transcript_empty"


def test_binary_and_oversized_input_are_refused() -> None:
    """Bytes that are not UTF-8 name the offset; the size cap is checked before parsing."""
    error = refusal(b"1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n")
    assert error.code == "transcript_unreadable" and error.line == 3 and "0xe9" in error.message
    assert refusal(b"WEBVTT\n\x00\x00").code == "transcript_unreadable"
    error = refusal(SRT, max_bytes=20)
    assert error.code == "transcript_too_large" and "20-byte limit" in error.message


def many_cues(count: int, kind: str) -> str:
    """A WebVTT or SRT file of `count` one-word cues, one every 1.2 s."""

    def clock(millis: int) -> str:
        hours, minutes, seconds = millis // 3_600_000, millis // 60_000 % 60, millis // 1000 % 60
        mark = "." if kind == "vtt" else ","
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}{mark}{millis % 1000:03d}"

    cues = (
        ("" if kind == "vtt" else f"{n + 1}\n")
        + f"{clock(n * 1200)} --> {clock(n * 1200 + 1000)}\nw{n}\n"
        for n in range(count)
    )
    return ("WEBVTT\n\n" if kind == "vtt" else "") + "\n".join(cues)


@pytest.mark.parametrize("kind", ["vtt", "srt"])
def test_too_many_cues_are_refused_before_the_libraries_see_them(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over MAX_CUES timing lines is transcript_too_large, found by counting '-->' lines
    before webvtt-py or pysrt is called (they take seconds over ~100,000 tiny cues)."""

    def never(*args: object, **kwargs: object) -> object:
        raise AssertionError("the subtitle library was called")

    monkeypatch.setattr(transcripts_module.webvtt, "from_string", never)
    monkeypatch.setattr(transcripts_module.pysrt, "from_string", never)
    data = many_cues(MAX_CUES + 1, kind)
    assert len(data.encode()) < 5 * 1024 * 1024  # under the byte cap: only the cue count refuses
    error = refusal(data)
    assert error.code == "transcript_too_large"
    assert f"has {MAX_CUES + 1} cues, over the {MAX_CUES}-cue limit: split it" in error.message


def test_cue_limit_counts_timing_lines() -> None:
    """The limit itself is allowed; read_transcript passes it on."""
    assert MAX_CUES == 20_000
    assert len(parse_transcript(many_cues(3, "vtt"), max_cues=3).segments) == 3
    assert len(parse_transcript(many_cues(3, "srt"), max_cues=3).segments) == 3
    assert refusal(many_cues(4, "srt"), max_cues=3).code == "transcript_too_large"


def test_read_transcript_applies_the_cue_limit(tmp_path: Path) -> None:
    """read_transcript refuses a file over its cue limit like parse_transcript."""
    path = tmp_path / "talk.srt"
    path.write_text(many_cues(3, "srt"))
    with pytest.raises(TranscriptError, match="2-cue limit") as caught:
        read_transcript(path, max_cues=2)
    assert caught.value.code == "transcript_too_large"


@pytest.mark.parametrize("kind", ["vtt", "srt"])
def test_ruby_readings_are_dropped(kind: str) -> None:
    """<rt> readings and <rp> fallbacks go, the base text stays; WebVTT's </ruby> ends an <rt>."""
    cues = [
        "<ruby>漢<rt>kan</rt>字<rt>ji</rt></ruby>を読む",
        "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>字",
        "<ruby>東<rt.small>tō</ruby>京",
        "<ruby><rt>only a reading</rt></ruby>",
    ]
    if kind == "vtt":
        data = "WEBVTT\n\n" + "".join(
            f"00:00:0{n}.000 --> 00:00:0{n}.500\n{cue}\n\n" for n, cue in enumerate(cues)
        )
    else:
        data = "".join(
            f"{n + 1}\n00:00:0{n},000 --> 00:00:0{n},500\n{cue}\n\n" for n, cue in enumerate(cues)
        )
    assert [s.text for s in parse_transcript(data).segments] == ["漢字を読む", "漢字", "東京"]


def test_ruby_readings_are_not_words() -> None:
    """With inline timestamps, a reading is neither text nor a timed word."""
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<ruby>漢<rt>kan</rt></ruby> <00:00:02.000>字\n"
    segment = parse_transcript(vtt).segments[0]
    assert segment.text == "漢 字"
    assert segment.words == (Word(1.0, 2.0, "漢"), Word(2.0, 3.0, "字"))


def test_bidi_controls_are_removed() -> None:
    """&lrm;/&rlm; (named or numeric) and raw bidi marks, embeddings and isolates vanish; a cue
    holding only them is empty."""
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n"
        "&rlm;שלום&lrm; world &#x200F;\u202bx\u202c \u2067y\u2069 \u200ez\u200f\u061c\n\n"
        "00:00:03.000 --> 00:00:04.000\n&lrm; \u2066\n\n"
        "00:00:05.000 --> 00:00:06.000\n\u202ea<00:00:05.500> \u200fb &lrm;\n"
    )
    segments = parse_transcript(vtt).segments
    assert [s.text for s in segments] == ["שלום world x y z", "a b"]
    assert segments[1].words == (Word(5.0, 5.5, "a"), Word(5.5, 6.0, "b"))
    srt = "1\n00:00:01,000 --> 00:00:02,000\n&rlm;שלום&LRM; \u200fworld\u202a!\u202c\n"
    assert parse_transcript(srt).segments[0].text == "שלום world!"


def test_read_transcript_takes_the_hint_from_the_suffix(tmp_path: Path) -> None:
    """A headerless file named .vtt gets the WebVTT refusal; the cap applies to the file size."""
    path = tmp_path / "talk.vtt"
    path.write_text("00:00:01.000 --> 00:00:02.000\nhi\n")
    with pytest.raises(TranscriptError, match="must start with the line 'WEBVTT'"):
        read_transcript(path)
    path.write_text(VTT)
    assert read_transcript(path).language == "en"
    with pytest.raises(TranscriptError) as caught:
        read_transcript(path, max_bytes=10)
    assert caught.value.code == "transcript_too_large"


TRANSCRIPT = Transcript(
    (
        Segment(0.5, 2.0, "Fish & chips <now>", (Word(0.5, 1.0, "Fish"), Word(1.2, 2.0, "&"))),
        Segment(2.0, 3661.25, "an hour\n\nlater", ()),
        Segment(3700.0, 3701.0, "   ", ()),
    ),
    language="en",
)


def test_webvtt_output_escapes_and_reads_back() -> None:
    """Markup characters are escaped, blank lines and empty cues dropped, hours kept."""
    text = to_webvtt(TRANSCRIPT)
    assert text.startswith("WEBVTT\nLanguage: en\n\n00:00:00.500 --> 00:00:02.000\n")
    assert "Fish &amp; chips &lt;now&gt;" in text
    assert "00:00:02.000 --> 01:01:01.250\nan hour\nlater\n" in text
    back = parse_transcript(text)
    assert back.language == "en"
    assert [(s.start, s.end, s.text) for s in back.segments] == [
        (0.5, 2.0, "Fish & chips <now>"),
        (2.0, 3661.25, "an hour\nlater"),
    ]


def test_webvtt_word_timestamps_round_trip_their_starts() -> None:
    """With word_timestamps, each word's start survives a write and a read."""
    back = parse_transcript(to_webvtt(TRANSCRIPT, word_timestamps=True))
    assert [(w.start, w.text) for w in back.segments[0].words] == [(0.5, "Fish"), (1.2, "&")]


def test_srt_output_numbers_cues_and_reads_back() -> None:
    """SRT output numbers the cues from 1 with comma milliseconds and parses back the same."""
    text = to_srt(TRANSCRIPT)
    assert text.startswith("1\n00:00:00,500 --> 00:00:02,000\nFish & chips \uff1cnow>\n\n2\n")
    assert "3\n" not in text.split("\n\n")[-1]
    back = parse_transcript(text)
    assert [(s.start, s.end, s.text) for s in back.segments] == [
        (0.5, 2.0, "Fish & chips \uff1cnow>"),
        (2.0, 3661.25, "an hour\nlater"),
    ]


def test_srt_output_keeps_tag_like_text_visible() -> None:
    """SRT cannot escape '<': text the reader would take for a tag (or an ASS override, or a
    timing line) is written with a full-width U+FF1C/U+FF5B/U+FF1E and reads back visibly the same;
    a '<' nothing closes, or a '{' starting no override, is left alone."""
    written = [
        "a & <b>",
        "<i>not italic</i> and <font color=red>x</font>",
        "<u>line one\nline two</u>",
        "1 < 2 and 3 > 2",
        "{\\an8} on top",
        "a --> b",
        "x > 1 but y < 2, a <-- b, {x}",
    ]
    read = [
        "a & \uff1cb>",
        "\uff1ci>not italic\uff1c/i> and \uff1cfont color=red>x\uff1c/font>",
        "\uff1cu>line one\nline two\uff1c/u>",
        "1 \uff1c 2 and 3 > 2",
        "\uff5b\\an8} on top",
        "a --\uff1e b",
        "x > 1 but y < 2, a <-- b, {x}",
    ]
    transcript = Transcript(tuple(Segment(n, n + 0.5, text) for n, text in enumerate(written)))
    back = parse_transcript(to_srt(transcript))
    assert [s.text for s in back.segments] == read
    assert [s.start for s in back.segments] == list(range(len(written)))
