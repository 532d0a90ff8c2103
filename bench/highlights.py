"""What highlight detection costs: `detect_highlights()` on a generated 1080p30 source.

The source (cached, as making it takes minutes) is H.264 at 8 Mbit/s with a keyframe
every 2 s (as OBS and most cameras record), grain and a slow pan so that it costs what a
camera's video costs to decode, plus scripted cuts, a moving square and loud bursts.
Prints the real-time factor (source seconds per second of analysis), the CPU time and
the peak RSS, and the candidates found.

    python -m bench.highlights [--short] [--keyframe-interval 60] [--cache DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

from crosspost.studio.highlight_samples import make_highlight_source
from crosspost.studio.highlights import detect_highlights

_WIDTH, _HEIGHT, _FPS = 1920, 1080, 30


def _script(seconds: float) -> dict[str, list[float] | list[tuple[float, float]]]:
    """Every minute: cuts (one rapid burst of three), 10 s of motion, an 8 s loud burst."""
    cuts: list[float] = []
    motion: list[tuple[float, float]] = []
    loud: list[tuple[float, float]] = []
    for minute in range(int(seconds // 60) or 1):
        base = minute * 60.0
        cuts += [base + 7, base + 19, base + 36, base + 38, base + 40, base + 52]
        motion.append((base + 10 + minute % 3 * 5, base + 20 + minute % 3 * 5))
        loud.append((base + 20 + minute % 4 * 6, base + 28 + minute % 4 * 6))
    return {"cuts": [c for c in cuts if c < seconds], "motion": motion, "loud": loud}


def _source(cache: Path, seconds: float, keyframe_interval: int) -> Path:
    path = cache / f"highlights-{int(seconds)}s-{_HEIGHT}p{_FPS}-g{keyframe_interval}.mp4"
    if path.exists():
        return path
    print(f"generating {path} (once; this takes a few minutes)...", flush=True)
    partial = path.with_suffix(".partial.mp4")
    started = time.perf_counter()
    # In a child process, so the encoder's memory does not count in the peak RSS below.
    maker = multiprocessing.get_context("fork").Process(
        target=_make, args=(partial, seconds, keyframe_interval)
    )
    maker.start()
    maker.join()
    if maker.exitcode != 0:
        raise SystemExit(f"generating the source failed (exit code {maker.exitcode})")
    partial.rename(path)
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def _make(path: Path, seconds: float, keyframe_interval: int) -> None:
    make_highlight_source(
        path,
        seconds=seconds,
        width=_WIDTH,
        height=_HEIGHT,
        fps=_FPS,
        sample_rate=48000,
        pan=True,
        grain=6,
        bit_rate=8_000_000,
        keyframe_interval=keyframe_interval,
        **_script(seconds),  # type: ignore[arg-type]
    )


def main() -> None:
    """Generate (or reuse) the source, run detection once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="a 1-minute source, not 10")
    parser.add_argument("--keyframe-interval", type=int, default=2 * _FPS)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "crosspost-bench"
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    seconds = 60.0 if args.short else 600.0
    path = _source(args.cache, seconds, args.keyframe_interval)
    mib = path.stat().st_size / 2**20
    print(f"source: {path.name}, {seconds:g} s, {mib:.0f} MiB, {os.cpu_count()} CPUs")

    cpu_before = time.process_time()
    started = time.perf_counter()
    candidates = detect_highlights(path, min_seconds=15, max_seconds=60, count=5)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  wall {wall:6.2f} s   real-time factor {seconds / wall:5.1f}x")
    print(f"  cpu  {cpu:6.2f} s   ({cpu / wall:.2f} cores busy)   peak RSS {peak:.0f} MiB")
    for candidate in candidates:
        reasons = "; ".join(candidate.reasons)
        print(f"  {candidate.start:7.1f}-{candidate.end:7.1f}  {candidate.score:.3f}  {reasons}")


if __name__ == "__main__":
    main()
