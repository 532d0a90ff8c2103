"""Built-in cover art speed: `ProceduralArtwork.generate` at 3000x3000, the size stores ask for.

Generates `--count` images (10; 3 with `--short`) in turn across the styles, slowest first,
each with its own seed, title and prompt, in this process, after one warm-up image that loads
the fonts (its time is printed apart). Prints per style the mean and max seconds, the images
per second, and the line to quote. Target: <= 2 s an image on two cores (seed 003's SLO:
< 30 s).

    python -m bench.artwork_generation [--short] [--count 10] [--size 3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict

from crosspost.providers.artwork import STYLES, ArtworkRequest, ProceduralArtwork

_TITLES = (
    ("Midnight Drive", "The Parallels", "neon city"),
    ("夜明けのスキャット", "由紀さおり", "sunset"),
    ("Songs for the Long Way Home, Recorded Live at the Old Harbour Hall", "Anna Lind", None),
    ("Ultraviolet 🎧", "Kōji & the Static", "blue pastel"),
)
# The slowest first (grain draws its noise at full size), so --short measures the worst.
_ORDER = ("grain", "waves", "geometric", "gradient")


def main() -> None:
    """Generate the images, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="3 images, not 10")
    parser.add_argument("--count", type=int, default=None, help="images to generate")
    parser.add_argument("--size", type=int, default=3000)
    args = parser.parse_args()
    count = args.count or (3 if args.short else 10)
    generator = ProceduralArtwork()

    started = time.perf_counter()
    generator.generate(ArtworkRequest(title="Warm-up", artist="Bench", size=args.size))
    print(f"warm-up (fonts loaded): {time.perf_counter() - started:.2f} s")

    seconds: dict[str, list[float]] = defaultdict(list)
    sizes: list[int] = []
    for n in range(count):
        title, artist, prompt = _TITLES[n % len(_TITLES)]
        style = _ORDER[n % len(_ORDER)]
        request = ArtworkRequest(
            title=title, artist=artist, prompt=prompt, style=style, seed=1000 + n, size=args.size
        )
        started = time.perf_counter()
        artwork = generator.generate(request)
        seconds[style].append(time.perf_counter() - started)
        sizes.append(len(artwork.data))

    every = [s for times in seconds.values() for s in times]
    print(f"{count} images, {args.size}x{args.size}, {os.cpu_count()} CPUs, one process")
    for style in STYLES:
        if times := seconds.get(style):
            print(
                f"  {style:<10} n={len(times):<3} mean {statistics.mean(times):5.2f} s   "
                f"max {max(times):5.2f} s"
            )
    print(f"  {len(every) / sum(every):.2f} images per second")
    print(
        f"  JPEG size: mean {statistics.mean(sizes) / 2**20:.1f} MiB, max {max(sizes) / 2**20:.1f}"
    )
    print(
        f"built-in generation: {statistics.mean(every):.2f} s per {args.size}x{args.size} image "
        f"(mean), {max(every):.2f} s max"
    )


if __name__ == "__main__":
    main()
