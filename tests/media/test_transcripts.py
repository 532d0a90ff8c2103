"""Subtitle files read into transcripts, refused with a precise reason, and written back."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosspost.domain.transcripts import Segment, Transcript, Word
from crosspost.media.transcripts import (
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
    assert text.startswith("1\n00:00:00,500 --> 00:00:02,000\nFish & chips <now>\n\n2\n")
    assert "3\n" not in text.split("\n\n")[-1]
    back = parse_transcript(text)
    assert [(s.start, s.end) for s in back.segments] == [(0.5, 2.0), (2.0, 3661.25)]
