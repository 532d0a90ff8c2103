"""What probing a long file costs: `probe()` on generated 10-minute media, median of runs.

Probing proves a file is whole (every sample inside the file, the last packets demuxed) at a
cost meant not to grow with the media data; this prints the figure for a long video (moov at
the start and at the end) and long audio files, with the size and sample count behind it.
Run it on a checkout without the wholeness checks for the figure before them.

    python -m bench.probe_cost [--minutes 10] [--runs 5] [--width 640 --height 360]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

from crosspost.media.probe import probe
from crosspost.media.samples import make_audio, make_video


def _samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(len(stream.index_entries) for stream in container.streams)


def _median_ms(path: Path, runs: int) -> float:
    probe(path)  # warm the page cache and PyAV's codec tables
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        probe(path)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Generate the files, probe each `--runs` times, print one line per file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    seconds = args.minutes * 60
    size = {"width": args.width, "height": args.height}
    makers: dict[str, Callable[[Path], Path]] = {
        "video.mp4 (moov first)": lambda p: make_video(p / "fast.mp4", seconds=seconds, **size),
        "video.mp4 (moov last)": lambda p: make_video(
            p / "slow.mp4", seconds=seconds, faststart=False, **size
        ),
        "video.webm (vp8)": lambda p: make_video(
            p / "v.webm", seconds=seconds, codec="vp8", **size
        ),
        "audio.mp3": lambda p: make_audio(p / "a.mp3", seconds=seconds),
        "audio.m4a": lambda p: make_audio(p / "a.m4a", seconds=seconds),
        "audio.flac": lambda p: make_audio(p / "a.flac", seconds=seconds),
        "audio.wav": lambda p: make_audio(p / "a.wav", seconds=seconds),
    }
    print(f"probe() on {args.minutes:g}-minute files, median of {args.runs} runs")
    with tempfile.TemporaryDirectory(prefix="probe-cost-") as folder:
        for label, make in makers.items():
            path = make(Path(folder))
            mib = path.stat().st_size / 2**20
            ms = _median_ms(path, args.runs)
            print(f"  {label:24} {mib:8.1f} MiB {_samples(path):8d} indexed  {ms:8.1f} ms")
            path.unlink()


if __name__ == "__main__":
    main()
