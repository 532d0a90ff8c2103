"""Clip render speed: a 30 s 1080x1920 clip, with word-highlighted captions and a logo, from
a 1080p30 source, in a fresh process as a worker would run it.

Prints the real-time factor (seconds of clip per second of wall time; target >= 1 on two
cores), the CPU time and clip seconds per CPU second (the figure that holds on a shared
machine; the load average is printed beside it), and the process's peak resident memory
(target <= 500 MiB). The
source (a moving bar over a gradient with a tone, made by `crosspost.media.samples`) is
generated once and cached under bench/results/.

    python -m bench.render [--seconds 30] [--reframe center|blur|fit] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crosspost.domain.transcripts import Segment, Transcript, Word
from crosspost.media.samples import make_image, make_video
from crosspost.studio.render import render_clip
from crosspost.studio.render_spec import BrandKit, RenderSpec, Watermark

CACHE = Path(__file__).parent / "results"
_WORDS = (
    "we", "shipped", "the", "new", "release", "today", "and", "here", "is", "what", "changed",
    "for", "you",
)  # fmt: skip


def _source(seconds: float) -> Path:
    path = CACHE / f"render-source-1920x1080p30-{seconds:g}s.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part.mp4")
        make_video(partial, seconds=seconds, width=1920, height=1080, fps=30)
        partial.replace(path)
    return path


def _transcript(seconds: float) -> Transcript:
    """A word every 0.35 s, in cues of 12 words: captions change about three times a second."""
    words = [
        Word(i * 0.35, i * 0.35 + 0.3, _WORDS[i % len(_WORDS)]) for i in range(int(seconds / 0.35))
    ]
    cues = [words[i : i + 12] for i in range(0, len(words), 12)]
    return Transcript(
        tuple(Segment(c[0].start, c[-1].end, " ".join(w.text for w in c), tuple(c)) for c in cues)
    )


def _worker(source: Path, seconds: float, reframe: str) -> None:
    """Render once in this process and print the figures as JSON."""
    with tempfile.TemporaryDirectory() as folder:
        logo = make_image(Path(folder) / "logo.png", 400, 400)
        spec = RenderSpec(
            start=1.0,
            end=1.0 + seconds,
            aspect="9:16",
            reframe=reframe,  # type: ignore[arg-type]
            transcript=_transcript(seconds + 1.0),
            brand=BrandKit(logo=Watermark(logo)),
        )
        begin = time.perf_counter()
        result = render_clip(source, Path(folder) / "out.mp4", spec)
        wall = time.perf_counter() - begin
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": result.duration_seconds,
                "size": f"{result.width}x{result.height}",
                "frames": result.frames,
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
                "mib": result.size_bytes / 2**20,
                "lufs": result.integrated_lufs,
                "dbtp": result.true_peak_dbtp,
            }
        )
    )


def main() -> None:
    """Make (or reuse) the source, render it `--runs` times in fresh processes, print lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--reframe", choices=("center", "blur", "fit"), default="center")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        _worker(args.worker, args.seconds, args.reframe)
        return
    source = _source(args.seconds + 2.0)
    for _ in range(args.runs):
        command = [sys.executable, "-m", "bench.render", "--worker", str(source)]
        command += ["--seconds", str(args.seconds), "--reframe", args.reframe]
        line = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        figures = json.loads(line)
        load = os.getloadavg()[0]
        print(
            f"render {figures['size']} {args.reframe} {figures['seconds']:.2f} s "
            f"({figures['frames']} frames), captions + logo: "
            f"{figures['seconds'] / figures['wall']:.2f}x real time "
            f"(wall {figures['wall']:.1f} s, load average {load:.1f}), "
            f"cpu {figures['cpu']:.1f} s = {figures['seconds'] / figures['cpu']:.2f}x real time "
            "per core, "
            f"peak RSS {figures['peak_rss_mib']:.0f} MiB, output {figures['mib']:.1f} MiB, "
            f"{figures['lufs']:.1f} LUFS, {figures['dbtp']:.1f} dBTP"
        )


if __name__ == "__main__":
    main()
