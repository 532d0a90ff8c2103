"""auto_fit's plan: which violations a render repairs, and the variant it asks for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crosspost.domain.enums import MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.engine.fit import FitPlan, plan_fit
from crosspost.media.validate import MediaInfo, Violation, validate
from crosspost.platforms import tiktok_rules, x_rules

VIDEO = frozenset({MediaKind.VIDEO})


def _video(width: int, height: int, seconds: float) -> MediaInfo:
    return MediaInfo(
        kind=MediaKind.VIDEO, size_bytes=1_000_000, container="mp4", duration_seconds=seconds,
        width=width, height=height, video_codec="h264", audio_codec="aac", frame_rate=30.0,
    )  # fmt: skip


def _plan(limits: MediaLimits, info: MediaInfo, text: str = "hi") -> FitPlan | None:
    return plan_fit(limits, info, validate(limits, info, text, destination="there"))


def _planned(limits: MediaLimits, info: MediaInfo) -> FitPlan:
    plan = _plan(limits, info)
    assert plan is not None
    return plan


def test_a_wide_video_gets_the_allowed_aspect_nearest_its_own() -> None:
    """4:1 on X (1:3 to 3:1) becomes 16:9; 1:4 on a 4:5-to-1.91 platform becomes 4:5."""
    plan = _planned(x_rules.VIDEO_LIMITS, _video(1440, 360, 2.0))
    assert (plan.aspect, plan.max_duration) == ("16:9", None)
    assert [v.code for v in plan.because] == ["aspect_ratio_not_allowed"]
    feed = MediaLimits(kinds=VIDEO, min_aspect=0.8, max_aspect=1.91)
    assert _planned(feed, _video(360, 1440, 2.0)).aspect == "4:5"


def test_a_video_too_long_is_cut_just_under_the_limit() -> None:
    """TikTok takes 600 s: an 11-minute video is cut to 599.9 s, in its own 16:9 shape."""
    plan = _planned(tiktok_rules.LIMITS, _video(1920, 1080, 660.0))
    assert plan.aspect == "16:9"
    assert plan.max_duration == pytest.approx(599.9)
    assert plan.seconds == pytest.approx(599.9)
    assert [v.code for v in plan.because] == ["media_too_long"]


def test_codec_container_and_size_are_repaired_too() -> None:
    """An MPEG-4 AVI too small for TikTok is re-encoded (H.264 MP4, at least 360 px)."""
    info = replace(_video(320, 240, 5.0), video_codec="mpeg4", container="avi")
    plan = _planned(tiktok_rules.LIMITS, info)
    codes = {v.code for v in plan.because}
    assert codes == {"resolution_not_allowed", "codec_not_allowed", "container_not_allowed"}
    assert plan.aspect == "1:1"  # 4:3 is as near 1:1 as 16:9: the first of them
    assert plan.seconds == 5.0


def test_rules_no_render_repairs_leave_the_target_to_fail() -> None:
    """Text, a video too short, audio or no media are never 'fixed'; nothing broken: no
    plan either."""
    limits = x_rules.VIDEO_LIMITS
    wide = _video(1440, 360, 2.0)
    assert _plan(limits, wide, text="x" * 500) is None  # its caption is too long as well
    assert _plan(limits, _video(1280, 720, 2.0)) is None  # nothing to repair
    short = MediaLimits(kinds=VIDEO, min_duration_seconds=3.0, max_aspect=2.0)
    assert _plan(short, wide) is None
    too_long = [Violation("media_too_long", "long", "media")]
    audio = MediaInfo(kind=MediaKind.AUDIO, size_bytes=10, duration_seconds=700.0)
    assert plan_fit(limits, audio, too_long) is None
    assert plan_fit(limits, None, too_long) is None


def test_a_platform_that_takes_none_of_the_aspects_gets_no_plan() -> None:
    """Only 2:1 to 3:1 allowed: no 9:16, 4:5, 1:1 or 16:9 render fits it."""
    odd = MediaLimits(kinds=VIDEO, min_aspect=2.0, max_aspect=3.0)
    assert _plan(odd, _video(360, 640, 2.0)) is None
