"""detect_highlights() over scripted sources generated with PyAV: the moments put in are
the moments found, with reasons naming them; bounds, count and bad inputs hold."""

from __future__ import annotations

import itertools
import random
import re
import struct
from pathlib import Path

import pytest

from crosspost.domain.transcripts import Segment, Transcript, Word
from crosspost.media.samples import make_corrupt, make_image
from crosspost.studio.highlight_samples import make_highlight_source
from crosspost.studio.highlights import Candidate, HighlightError, detect_highlights
from crosspost.studio.signals import read_signals
from crosspost.studio.speech import Hit, read_speech

# One minute with a moment of each kind: three quick cuts, a moving square, a loud burst.
CUTS = (8.0, 10.0, 12.0)
MOTION = (26.0, 33.0)
LOUD = (44.0, 52.0)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60 s 160x90 source with the three moments above."""
    folder = tmp_path_factory.mktemp("highlights")
    return make_highlight_source(
        folder / "scripted.mp4", seconds=60, cuts=CUTS, motion=(MOTION,), loud=(LOUD,)
    )


def _seconds(reason: str) -> int:
    """The m:ss time a reason names, in seconds."""
    found = re.search(r"(\d+):(\d\d)\b", reason)
    assert found, reason
    return int(found[1]) * 60 + int(found[2])


def _covering(candidates: list[Candidate], start: float, end: float) -> Candidate:
    """The candidate that overlaps [start, end) the most."""
    best = max(candidates, key=lambda c: min(c.end, end) - max(c.start, start))
    assert min(best.end, end) - max(best.start, start) > 0, (start, end, candidates)
    return best


def _assert_well_formed(
    candidates: list[Candidate], duration: float, low: float, high: float, count: int
) -> None:
    assert 0 < len(candidates) <= count
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)
    for candidate in candidates:
        assert 0 <= candidate.start < candidate.end <= duration + 1e-6
        assert low - 1e-6 <= candidate.end - candidate.start <= high + 1e-6
        assert 0 < candidate.score <= 1
    spans = sorted((c.start, c.end) for c in candidates)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_each_scripted_moment_is_found_with_its_reason(scripted: Path) -> None:
    """The cuts, the motion and the loud burst each lead a candidate that says what it is."""
    candidates = detect_highlights(scripted, min_seconds=6, max_seconds=12, count=3)
    _assert_well_formed(candidates, 60.0, 6, 12, 3)

    loud = _covering(candidates, *LOUD)
    assert loud is candidates[0], candidates  # the loudest moment ranks first
    peak = next(r for r in loud.reasons if r.startswith("loudness peak +"))
    assert int(re.search(r"\+(\d+) LU", peak)[1]) >= 20  # type: ignore[index]
    assert LOUD[0] - 1 <= _seconds(peak) < LOUD[1]

    cuts = _covering(candidates, CUTS[0], CUTS[-1] + 1)
    assert "3 scene cuts in 5 s" in cuts.reasons, cuts
    assert cuts.start <= CUTS[0] and cuts.end > CUTS[-1]

    moving = _covering(candidates, *MOTION)
    motion = next(r for r in moving.reasons if r.startswith("strong motion"))
    assert MOTION[0] - 1 <= _seconds(motion) <= MOTION[0] + 1, motion


def test_signals_place_cuts_in_their_seconds(scripted: Path) -> None:
    """Cuts land in the second they happen; loudness rises by the burst's 27 dB."""
    signals = read_signals(scripted)
    assert signals.duration == pytest.approx(60.0, abs=0.1)
    assert signals.cuts is not None and signals.loudness is not None
    assert [i for i, n in enumerate(signals.cuts) for _ in range(n)] == [8, 10, 12]
    assert max(signals.loudness) - signals.loudness[5] == pytest.approx(27, abs=2)


def test_bounds_and_count_hold_and_results_repeat(scripted: Path) -> None:
    """Every candidate respects the bounds, none overlap, and a second run is identical."""
    for low, high, count in ((15.0, 15.0, 5), (5.5, 9.5, 8), (20.0, 60.0, 2)):
        first = detect_highlights(scripted, min_seconds=low, max_seconds=high, count=count)
        _assert_well_formed(first, 60.0, low, high, count)
        assert detect_highlights(scripted, min_seconds=low, max_seconds=high, count=count) == (
            first
        )


def test_source_shorter_than_the_minimum_is_one_whole_candidate(tmp_path: Path) -> None:
    """A 12 s source with a 15 s minimum gives one candidate: all of it."""
    path = make_highlight_source(tmp_path / "short.mp4", seconds=12, loud=((9.0, 11.0),))
    (only,) = detect_highlights(path, min_seconds=15, max_seconds=60)
    assert only.start == 0.0
    assert only.end == pytest.approx(12.0, abs=0.1)
    assert any(r.startswith("loudness peak") for r in only.reasons)


def test_progress_reaches_the_end(scripted: Path) -> None:
    """Progress is reported in order and ends with (duration, duration)."""
    calls: list[tuple[float, float]] = []
    detect_highlights(scripted, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 10
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1][0] == calls[-1][1] == pytest.approx(60.0, abs=0.1)


def test_audio_only_source_is_scored_on_loudness(tmp_path: Path) -> None:
    """An m4a with a loud burst gives that burst, named."""
    path = make_highlight_source(
        tmp_path / "talk.m4a", seconds=40, video=False, loud=((20.0, 28.0),)
    )
    top = detect_highlights(path, min_seconds=5, max_seconds=10, count=2)[0]
    assert top.start < 28 and top.end > 20
    assert any(r.startswith("loudness peak +") for r in top.reasons)


def test_silent_variable_rate_rotated_odd_sized_video_finds_its_cuts(tmp_path: Path) -> None:
    """No audio, variable frame durations, a 90° rotation and 161x91 pixels: cuts still show."""
    path = make_highlight_source(
        tmp_path / "phone.mp4",
        seconds=20,
        cuts=(5.0, 6.0, 7.0, 15.0),
        width=161,
        height=91,
        audio=False,
        variable_rate=True,
        rotation=90,
    )
    signals = read_signals(path)
    assert signals.loudness is None and signals.cuts is not None
    assert [i for i, n in enumerate(signals.cuts) for _ in range(n)] == [5, 6, 7, 15]
    top = detect_highlights(path, min_seconds=5, max_seconds=8, count=2)[0]
    assert "3 scene cuts in 3 s" in top.reasons


def test_partial_decoding_still_finds_cuts_and_motion(tmp_path: Path) -> None:
    """Above the pixel budget only each group's start is decoded; moments still show."""
    path = make_highlight_source(
        tmp_path / "gop.mp4",
        seconds=30,
        cuts=(9.0, 21.0),
        motion=((12.0, 18.0),),
        keyframe_interval=30,  # 2 s at 15 fps
    )
    full = read_signals(path)
    partial = read_signals(path, pixel_budget=50_000)  # a quarter of 160x90 at 15 fps
    assert partial.cuts is not None and partial.motion is not None
    # A cut is seen at the first sample after it: within one group of pictures.
    found = [i for i, n in enumerate(partial.cuts) for _ in range(n)]
    assert len(found) == 2 and 9 <= found[0] <= 11 and 21 <= found[1] <= 23, found
    measured = [i for i, m in enumerate(partial.motion) if m is not None]
    assert len(measured) < len([m for m in full.motion or () if m is not None])
    moving = [i for i in measured if (partial.motion[i] or 0) > 0.005]
    assert moving and all(12 <= i <= 19 for i in moving), partial.motion


def test_a_damaged_middle_still_gives_candidates(tmp_path: Path) -> None:
    """A stretch of garbage in the media data is skipped over, not fatal."""
    path = make_highlight_source(
        tmp_path / "damaged.mp4", seconds=30, cuts=(5.0,), loud=((20.0, 25.0),)
    )
    data = bytearray(path.read_bytes())
    noise = random.Random(7)
    for at in range(len(data) * 4 // 10, len(data) * 5 // 10):
        data[at] = noise.randrange(256)
    path.write_bytes(bytes(data))
    candidates = detect_highlights(path, min_seconds=5, max_seconds=10, count=3)
    _assert_well_formed(candidates, 30.0, 5, 10, 3)


def _mdat_garbled(source: Path, target: Path) -> Path:
    """A copy of an mp4 whose media data (the `mdat` box's payload) is noise."""
    data = bytearray(source.read_bytes())
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"mdat":
            noise = random.Random(11)
            for index in range(at + 8, at + size):
                data[index] = noise.randrange(256)
            break
        at += size
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda folder: folder / "absent.mp4", "source_missing"),
        (lambda folder: make_corrupt(folder / "empty.mp4"), "no_streams"),
        (lambda folder: _write(folder / "notes.mp4", b"these are not media bytes " * 50), None),
        (lambda folder: make_image(folder / "still.png"), "too_short"),
        (
            lambda folder: _mdat_garbled(
                make_highlight_source(folder / "ok.mp4", seconds=4), folder / "noise.mp4"
            ),
            "undecodable",
        ),
    ],
    ids=["missing", "no-streams", "not-media", "still-image", "noise-data"],
)
def test_unusable_sources_fail_with_a_precise_code(
    tmp_path: Path, make: object, code: str | None
) -> None:
    """Each kind of unusable source has its own code and a message saying what to do."""
    assert callable(make)
    with pytest.raises(HighlightError) as raised:
        detect_highlights(make(tmp_path))
    assert raised.value.code == (code or "unreadable")
    assert raised.value.status == 422
    assert len(raised.value.detail) > 30


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"min_seconds": 0}, "invalid_bounds"),
        ({"min_seconds": 30, "max_seconds": 20}, "invalid_bounds"),
        ({"max_seconds": float("inf")}, "invalid_bounds"),
        ({"count": 0}, "invalid_count"),
        ({"count": 101}, "invalid_count"),
    ],
)
def test_bad_parameters_are_refused_before_decoding(
    scripted: Path, options: dict[str, float], code: str
) -> None:
    """Bounds and count are checked first, with the values named."""
    with pytest.raises(HighlightError) as raised:
        detect_highlights(scripted, **options)  # type: ignore[arg-type]
    assert raised.value.code == code


def _talk(words_per_second: float, start: float, end: float, text: str) -> list[Word]:
    spoken = text.split()
    step = 1.0 / words_per_second
    return [
        Word(start + i * step, start + i * step + step * 0.8, spoken[i % len(spoken)])
        for i in range(int((end - start) * words_per_second))
    ]


def test_keywords_and_dense_speech_raise_a_window(tmp_path: Path) -> None:
    """With a transcript, the stretch of fast speech naming a keyword becomes the top clip."""
    path = make_highlight_source(tmp_path / "flat.m4a", seconds=60, video=False)
    assert detect_highlights(path, min_seconds=8, max_seconds=12) == []  # nothing stands out
    slow = _talk(0.5, 0.0, 36.0, "well so anyway")
    fast = _talk(3.5, 36.0, 46.0, "and then the Winning goal went in what a finish")
    transcript = Transcript(
        (
            Segment(0.0, 36.0, "", tuple(slow)),
            Segment(36.0, 46.0, "", tuple(fast)),
            Segment(46.0, 60.0, "we should talk about the goal later"),  # no word timings
        )
    )
    found = detect_highlights(
        path, min_seconds=8, max_seconds=12, transcript=transcript, keywords=["winning goal"]
    )
    top = found[0]
    assert top.start < 46 and top.end > 36, found
    assert any(r.startswith("dense speech, 3.") for r in top.reasons), top
    assert any(r.startswith("keyword “winning goal” x") for r in top.reasons), top
    plain = detect_highlights(path, min_seconds=8, max_seconds=12, transcript=transcript)
    best_plain = _covering(plain, 36.0, 46.0)
    assert top.score > best_plain.score
    assert not any("keyword" in r for r in best_plain.reasons)


def test_speech_counts_words_and_matches_phrases_without_case_or_punctuation() -> None:
    """Words land in their seconds (spread evenly without timings); phrases match in order."""
    transcript = Transcript(
        (
            Segment(0.0, 2.0, "", (Word(0.2, 0.5, "What"), Word(1.1, 1.4, "a GOAL!"))),
            Segment(2.0, 4.0, "It's a goal, a real goal"),
        )
    )
    speech = read_speech(transcript, ["goal", "a real goal", "missing"], 5)
    assert speech.words == (1, 2, 3, 3, 0)
    assert speech.hits == (
        Hit("goal", 1.1),
        Hit("goal", 2 + 2 * 2 / 6),
        Hit("a real goal", 2 + 2 * 3 / 6),
        Hit("goal", 2 + 2 * 5 / 6),
    )
