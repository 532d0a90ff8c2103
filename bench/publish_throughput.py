"""End-to-end publishing throughput: N posts x 2 sandbox targets through the real server.

Starts `crosspost serve --sandbox` (API + workers + fakes in one process, as a user would),
creates `--posts` posts to YouTube and TikTok as fast as the API takes them, and waits until
every target is final. Prints targets/s and p50/p99 end-to-end latency (post created →
target published, from the targets' own timestamps).

    python bench/publish_throughput.py [--posts 200] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

from bench._stack import percentile, running_server


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--split", action="store_true", help="fakes, API and workers in separate processes"
    )
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="with --split: worker processes"
    )
    args = parser.parse_args()
    from crosspost.media.samples import make_video

    extra = {
        # The fakes enforce TikTok's real per-token limits (6 inits/min); a benchmark of our
        # own throughput raises them, or it would only measure TikTok's pacing.
        "CROSSPOST_FAKE_RATE_LIMITS": "0",
        "CROSSPOST_PACING": "0",
        "CROSSPOST_SANDBOX_POLL_SECONDS": "0.05",
        "CROSSPOST_JOB_POLL_SECONDS": "0.05",
        "CROSSPOST_FAKE_PROCESSING_SECONDS": "0.05",
    }
    with running_server(
        database_url=args.database_url,
        workers=args.workers,
        extra_env=extra,
        split=args.split,
        worker_processes=args.worker_processes,
    ) as server:
        clip = Path(tempfile.mkdtemp()) / "clip.mp4"
        make_video(clip, seconds=1.0)
        auth = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=60) as http:
            media = http.post(
                "/v1/media", content=clip.read_bytes(), headers={"Content-Type": "video/mp4"}
            )
            media.raise_for_status()
            body = {
                "media_id": media.json()["id"],
                "text": "bench",
                "targets": ["youtube", "tiktok"],
            }
            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                ids = list(
                    pool.map(
                        lambda _: http.post("/v1/posts", json=body).json()["id"], range(args.posts)
                    )
                )
            created = time.perf_counter() - start
            wanted = set(ids)
            # One cheap query per poll (is anything still publishing?), not one per post:
            # the benchmark must not be the load it measures.
            while http.get("/v1/posts", params={"status": "publishing", "limit": 1}).json()["data"]:
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
            latencies: list[float] = []
            statuses: dict[str, int] = {}
            cursor = None
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = http.get("/v1/posts", params=params).json()
                for post in page["data"]:
                    if post["id"] not in wanted:
                        continue
                    t0 = datetime.fromisoformat(post["created_at"])
                    for t in post["targets"]:
                        statuses[t["status"]] = statuses.get(t["status"], 0) + 1
                        if t["published_at"]:
                            done = datetime.fromisoformat(t["published_at"])
                            latencies.append((done - t0).total_seconds())
                if not page["has_more"]:
                    break
                cursor = page["next_cursor"]
        targets = 2 * args.posts
        layout = (
            f"split processes ({args.worker_processes} worker)" if args.split else "one process"
        )
        print(
            f"database: {args.database_url or 'embedded SQLite'}, {layout}, workers: {args.workers}"
        )
        print(
            f"{args.posts} posts created in {created:.1f} s; "
            f"{targets} targets final in {elapsed:.1f} s "
            f"= {targets / elapsed:.1f} targets/s; statuses {statuses}"
        )
        print(
            f"end-to-end latency p50 {percentile(latencies, 0.5):.2f} s, "
            f"p99 {percentile(latencies, 0.99):.2f} s"
        )


if __name__ == "__main__":
    main()
