"""validate(): one precise, stable violation per broken limit, with numbers and a fix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crosspost.domain.enums import MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.errors import MediaRejected
from crosspost.media.probe import probe
from crosspost.media.samples import make_video
from crosspost.media.validate import MediaInfo, Violation, raise_for, validate

SHORTS = MediaLimits(
    kinds=frozenset({MediaKind.VIDEO}),
    containers=frozenset({"mp4", "mov", "webm"}),
    video_codecs=frozenset({"h264", "hevc", "vp9"}),
    audio_codecs=frozenset({"aac", "opus"}),
    min_duration_seconds=1.0,
    max_duration_seconds=60.0,
    max_bytes=256 * 1024**2,
    min_aspect=0.5,
    max_aspect=1.0,
    min_fps=24.0,
    max_fps=60.0,
    min_side=240,
    max_side=3840,
    max_width=2160,
    caption_max_chars=100,
    caption_max_bytes=150,
    title_max_chars=100,
    max_hashtags=3,
    forbidden_chars="<>",
)
WHERE = "youtube shorts"
GOOD = MediaInfo(
    kind=MediaKind.VIDEO,
    size_bytes=5 * 1024**2,
    container="mp4",
    duration_seconds=30.0,
    width=1080,
    height=1920,
    video_codec="h264",
    audio_codec="aac",
    frame_rate=30.0,
)


def _only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, violations
    return violations[0]


def test_valid_short_has_no_violation() -> None:
    """A vertical 30 s H.264/AAC mp4 with a short caption passes every check."""
    assert validate(SHORTS, GOOD, "Launch day #news", title="Launch", destination=WHERE) == []


def test_generated_short_probes_and_validates_clean(tmp_path: Path) -> None:
    """A real generated clip, probed then validated, passes the Shorts limits."""
    path = make_video(tmp_path / "short.mp4", seconds=2.0)
    media = MediaInfo.from_probe(probe(path), path.stat().st_size)
    assert validate(SHORTS, media, "hello #shorts", destination=WHERE) == []


def test_media_required() -> None:
    """A media post without media asks for the accepted kind."""
    found = _only(validate(SHORTS, None, "text", destination=WHERE))
    assert found == Violation(
        "media_required", "a post on youtube shorts needs a video file: attach one", "media"
    )


def test_text_only_limits_accept_no_media_and_refuse_media() -> None:
    """Text-only posts need no media and reject any that is attached."""
    text_only = MediaLimits(kinds=frozenset(), text_only=True)
    assert validate(text_only, None, "hi") == []
    found = _only(validate(text_only, GOOD, "hi", destination="youtube community posts"))
    assert found.code == "media_not_allowed"
    assert found.message == "a post on youtube community posts takes text only: remove the video"


def test_an_audio_file_takes_an() -> None:
    """The article agrees with the kind: "an audio file", "an image file", "a video file"."""
    audio_only = MediaLimits(kinds=frozenset({MediaKind.AUDIO}))
    assert _only(validate(audio_only, None, "", destination="soundcloud")).message == (
        "a post on soundcloud needs an audio file: attach one"
    )
    image_only = MediaLimits(kinds=frozenset({MediaKind.IMAGE}))
    assert _only(validate(image_only, GOOD, "", destination="x")).message == (
        "video files are not accepted on x: upload an image file instead"
    )


def test_media_kind_not_allowed() -> None:
    """An image sent to a video-only destination names what to upload instead."""
    image = MediaInfo(kind=MediaKind.IMAGE, size_bytes=1000, container="png", width=10, height=10)
    found = _only(validate(SHORTS, image, "", destination=WHERE))
    assert found.code == "media_kind_not_allowed"
    assert found.message == (
        "image files are not accepted on youtube shorts: upload a video file instead"
    )


def test_media_too_long() -> None:
    """Over the maximum duration: says by how much to trim."""
    found = _only(validate(SHORTS, replace(GOOD, duration_seconds=75.0), "", destination=WHERE))
    assert found.code == "media_too_long"
    assert found.message == (
        "video is 75.0 s; the maximum on youtube shorts is 60 s: trim it by at least 15.0 s"
    )


def test_media_just_over_the_limit_is_not_shown_as_the_limit() -> None:
    """60.04 s is shown with enough precision to differ from 60 s, and trimming rounds up."""
    found = _only(validate(SHORTS, replace(GOOD, duration_seconds=60.04), "", destination=WHERE))
    assert found.message == (
        "video is 60.04 s; the maximum on youtube shorts is 60 s: trim it by at least 0.1 s"
    )


def test_media_too_short() -> None:
    """Under the minimum duration: names the minimum."""
    found = _only(validate(SHORTS, replace(GOOD, duration_seconds=0.4), "", destination=WHERE))
    assert found.code == "media_too_short"
    assert found.message == (
        "video is 0.4 s; the minimum on youtube shorts is 1 s: use a clip at least that long"
    )


def test_media_too_large() -> None:
    """Over the byte limit: both sizes in MiB and exact bytes."""
    big = replace(GOOD, size_bytes=300 * 1024**2)
    found = _only(validate(SHORTS, big, "", destination=WHERE))
    assert found.code == "media_too_large"
    assert found.message == (
        "the file is 300 MiB (314572800 bytes); the maximum on youtube shorts is "
        "256 MiB (268435456 bytes): compress it or shorten it"
    )


@pytest.mark.parametrize(
    ("width", "height", "fix"),
    [
        (1920, 1080, "crop its sides or pad its top and bottom"),
        (500, 1920, "crop its top and bottom or pad its sides"),
    ],
)
def test_aspect_ratio_not_allowed(width: int, height: int, fix: str) -> None:
    """Too wide or too tall: gives the ratio, the accepted range and which way to crop."""
    media = replace(GOOD, width=width, height=height)
    found = _only(validate(SHORTS, media, "", destination=WHERE))
    assert found.code == "aspect_ratio_not_allowed"
    ratio = f"{width / height:.2f}"
    assert found.message == (
        f"video is {width}x{height}, aspect ratio {ratio} (width / height); "
        f"youtube shorts accepts 0.5 to 1: {fix}"
    )


def test_frame_rate_not_allowed() -> None:
    """A 120 fps clip is refused with the accepted range."""
    found = _only(validate(SHORTS, replace(GOOD, frame_rate=120.0), "", destination=WHERE))
    assert found.code == "frame_rate_not_allowed"
    assert found.message == (
        "video is 120 fps; youtube shorts accepts 24 fps to 60 fps: "
        "re-encode it at a frame rate in that range"
    )
    slow = _only(validate(SHORTS, replace(GOOD, frame_rate=23.976), "", destination=WHERE))
    assert slow.message.startswith("video is 23.98 fps;")


def test_resolution_not_allowed() -> None:
    """Sides outside min_side / max_side / max_width are each named with a fix."""
    tiny = _only(validate(SHORTS, replace(GOOD, width=200, height=400), "", destination=WHERE))
    assert tiny.code == "resolution_not_allowed"
    assert tiny.message == (
        "video is 200x400; on youtube shorts its shorter side must be at least 240 px: "
        "use a larger source"
    )
    huge = _only(validate(SHORTS, replace(GOOD, width=2400, height=4000), "", destination=WHERE))
    assert huge.message == (
        "video is 2400x4000; on youtube shorts its longer side must be at most 3840 px: "
        "scale it down; its width must be at most 2160 px: scale it down"
    )


def test_codec_not_allowed_for_video_and_audio() -> None:
    """Video and audio codecs are checked separately and suggest the common choice."""
    media = replace(GOOD, video_codec="mpeg4", audio_codec="mp3")
    found = validate(SHORTS, media, "", destination=WHERE)
    assert [v.code for v in found] == ["codec_not_allowed", "codec_not_allowed"]
    assert found[0].message == (
        "the video codec is mpeg4; accepted on youtube shorts: h264, hevc, vp9: "
        "re-encode the video as h264"
    )
    assert found[1].message == (
        "the audio codec is mp3; accepted on youtube shorts: aac, opus: re-encode the audio as aac"
    )


def test_silent_video_passes_audio_codec_check() -> None:
    """A video without an audio track is not an audio codec violation."""
    assert validate(SHORTS, replace(GOOD, audio_codec=None), "") == []


def test_container_not_allowed() -> None:
    """An mkv file is refused with the accepted containers and a target."""
    found = _only(validate(SHORTS, replace(GOOD, container="mkv"), "", destination=WHERE))
    assert found.code == "container_not_allowed"
    assert found.message == (
        "the file is mkv; accepted on youtube shorts: mov, mp4, webm: convert it to mp4"
    )


def test_caption_too_long_counts_code_points() -> None:
    """Emoji count as one character each toward caption_max_chars."""
    limits = MediaLimits(kinds=frozenset({MediaKind.VIDEO}), caption_max_chars=5)
    assert validate(limits, GOOD, "🎬🎬🎬🎬🎬") == []
    found = _only(validate(limits, GOOD, "🎬🎬🎬🎬🎬🎬🎬", destination=WHERE))
    assert found == Violation(
        "caption_too_long",
        "the caption is 7 characters; the maximum on youtube shorts is 5: shorten it by 2 "
        "characters",
        "text",
    )


def test_caption_too_long_counts_utf8_bytes() -> None:
    """caption_max_bytes counts UTF-8 bytes, so accents cost two and emoji four."""
    limits = MediaLimits(kinds=frozenset({MediaKind.VIDEO}), caption_max_bytes=10)
    assert validate(limits, GOOD, "ééééé") == []  # 10 bytes exactly
    found = _only(validate(limits, GOOD, "ééééé🎬", destination=WHERE))
    assert found.code == "caption_too_long"
    assert found.message == (
        "the caption is 14 bytes in UTF-8 (accented letters and emoji take 2 to 4 bytes each); "
        "the maximum on youtube shorts is 10 bytes: shorten it by 4 bytes"
    )


def test_title_too_long() -> None:
    """A title over title_max_chars is reported on the title field."""
    found = _only(validate(SHORTS, GOOD, "", title="t" * 130, destination=WHERE))
    assert found == Violation(
        "title_too_long",
        "the title is 130 characters; the maximum on youtube shorts is 100: shorten it by 30 "
        "characters",
        "title",
    )


def test_too_many_hashtags_counts_unicode_tags_only() -> None:
    """#word tokens with Unicode letters count; URL fragments and a lone # do not."""
    text = "#café #日本 #a_1 #x see https://example.com/page#top and # alone, C#"
    found = _only(validate(SHORTS, GOOD, text, destination=WHERE))
    assert found == Violation(
        "too_many_hashtags",
        "the caption has 4 hashtags; the maximum on youtube shorts is 3: remove 1",
        "text",
    )
    assert validate(SHORTS, GOOD, "#one #two #three page#top") == []


def test_forbidden_characters_in_caption_and_title() -> None:
    """Forbidden characters are listed for each field they appear in."""
    found = validate(SHORTS, GOOD, "a <b> c", title="x > y", destination=WHERE)
    assert found == [
        Violation(
            "forbidden_characters",
            "the caption contains '<', '>', not allowed on youtube shorts: remove them",
            "text",
        ),
        Violation(
            "forbidden_characters",
            "the title contains '>', not allowed on youtube shorts: remove it",
            "title",
        ),
    ]


def test_several_violations_are_all_reported() -> None:
    """Every broken rule is reported, not only the first."""
    media = replace(GOOD, duration_seconds=90.0, frame_rate=120.0, container="avi")
    codes = {v.code for v in validate(SHORTS, media, "#a #b #c #d")}
    assert codes == {
        "media_too_long",
        "frame_rate_not_allowed",
        "container_not_allowed",
        "too_many_hashtags",
    }


def test_default_destination_wording() -> None:
    """Without a destination the messages say "this platform"."""
    found = _only(validate(SHORTS, replace(GOOD, duration_seconds=61.0), ""))
    assert "the maximum on this platform is 60 s" in found.message


def test_raise_for_raises_media_rejected_with_all_violations() -> None:
    """raise_for uses the first code, joins the messages and lists every violation."""
    violations = validate(
        SHORTS, replace(GOOD, duration_seconds=75.0), "#a #b #c #d", destination=WHERE
    )
    with pytest.raises(MediaRejected) as caught:
        raise_for(violations)
    error = caught.value
    assert error.code == "media_too_long"
    assert error.status == 422
    assert error.detail == "; ".join(v.message for v in violations)
    assert error.extra["violations"] == [
        {"code": v.code, "message": v.message, "field": v.field} for v in violations
    ]
    raise_for([])  # nothing to report: no exception


def test_media_info_from_row_matches_table_columns() -> None:
    """A media table row (with extra columns) becomes the same MediaInfo."""
    row = {
        "id": "med_1",
        "kind": "video",
        "size_bytes": GOOD.size_bytes,
        "container": "mp4",
        "duration_seconds": 30.0,
        "width": 1080,
        "height": 1920,
        "video_codec": "h264",
        "audio_codec": "aac",
        "frame_rate": 30.0,
    }
    assert MediaInfo.from_row(row) == GOOD
