"""A four-hour source (a whole stream): highlight detection reads all of it and finds the
moments near its end, and a clip from its last minute renders without decoding the rest.
The picture is tiny and one frame a second so the file costs a second to write; decoding
cost per frame is what bench/highlights.py measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosspost.studio.highlight_samples import make_highlight_source
from crosspost.studio.highlights import detect_highlights
from crosspost.studio.render import render_clip
from crosspost.studio.render_spec import RenderSpec

HOURS_4 = 4 * 3600.0


def test_a_four_hour_source_is_scanned_to_its_end_and_its_last_minute_renders(
    tmp_path: Path,
) -> None:
    cuts = (HOURS_4 - 600, HOURS_4 - 595, HOURS_4 - 590)
    source = make_highlight_source(
        tmp_path / "stream.mp4", seconds=HOURS_4, cuts=cuts, width=64, height=36, fps=1,
        audio=False,
    )  # fmt: skip
    seen: list[tuple[float, float]] = []
    found = detect_highlights(
        source, min_seconds=10, max_seconds=30, count=1, progress=lambda d, t: seen.append((d, t))
    )
    [best] = found
    assert best.start <= cuts[0] and best.end >= cuts[-1], best
    assert best.reasons == ("3 scene cuts in 11 s",), best  # whole seconds at 1 fps
    assert seen[-1][0] == pytest.approx(HOURS_4, abs=2.0)

    out = tmp_path / "last.mp4"
    result = render_clip(source, out, RenderSpec(HOURS_4 - 10, HOURS_4 - 2, captions=None))
    assert result.frames == 240 and result.duration_seconds == pytest.approx(8.0, abs=0.05)
