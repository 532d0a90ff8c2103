"""End-to-end publishing throughput: N posts x 2 sandbox targets through the real server.

Starts `crosspost serve --sandbox` (API + workers + fakes in one process, as a user would;
with `--split`, the fakes, the API and the workers in processes of their own), creates
`--posts` posts to YouTube and TikTok as fast as the API takes them, and waits until every
target is final. Prints targets/s and p50/p99 end-to-end latency (post created → target
published, from the targets' own timestamps), and the CPU the workers spent per target.

With `--phases` (and py-spy installed), the worker processes are sampled during the run and
that CPU is split by phase: claiming and settling jobs, platform HTTP (our clients and
httpx), ledger and outbox writes, other database work, and the rest (publish logic, vault).

    python -m bench.publish_throughput --split --phases [--posts 400] [--database-url …]
        [--profile bench/profiles/worker.svg]
"""

from __future__ import annotations

import argparse
import collections
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import psutil

from bench._stack import bench_database, percentile, profiled, running_server

# A sampled stack belongs to the first phase (in this order) whose marker appears in it;
# py-spy leaves out threads that wait (sleeping on a lock, a socket, a queue).
_SETTLE = ("claim", "heartbeat", "complete", "reschedule", "fail")
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("jobs: claim, lease, settle", (*(f"JobStore.{verb} (" for verb in _SETTLE),
                                    "Runner._flush (", "WebhookDispatcher._claim (")),
    ("ledger + outbox writes", ("crosspost/store/ledger.py", "crosspost/webhooks/outbox.py",
                                "crosspost/engine/events.py")),
    ("platform HTTP (clients, httpx)", ("crosspost/platforms/", "httpx/", "httpcore/", "h11/")),
    ("other database work", ("crosspost/store/", "sqlalchemy/", "psycopg/")),
)  # fmt: skip
OTHER = "the rest (publish logic, vault, logging)"


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


@contextmanager
def _sampled(pids: list[int], folder: Path, enabled: bool) -> Iterator[list[Path]]:
    """py-spy records each of `pids` (raw stacks) until the block ends."""
    sampled = pids if enabled else []
    outputs = [folder / f"worker-{pid}.txt" for pid in sampled]
    spies = [
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "100",
                "--nonblocking",  # pausing the workers to sample them would halve their rate
                "--gil",  # only the thread running Python: waits on sockets and locks drop out
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid, out in zip(sampled, outputs, strict=True)
    ]
    try:
        yield outputs
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
        for spy in spies:
            spy.wait(timeout=60)


def _phase_shares(outputs: list[Path]) -> dict[str, float]:
    """Each phase's share of the sampled stacks."""
    counts: collections.Counter[str] = collections.Counter()
    for output in outputs:
        for line in output.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            phase = next((name for name, marks in PHASES if any(m in stack for m in marks)), OTHER)
            counts[phase] += int(count)
    total = sum(counts.values())
    if total == 0:
        raise RuntimeError("py-spy sampled nothing: is it installed (pip install py-spy)?")
    return {name: counts[name] / total for name, _ in (*PHASES, (OTHER, ()))}


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
    parser.add_argument(
        "--phases", action="store_true", help="split the workers' CPU by phase (py-spy)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="a py-spy flame graph (SVG) of the first worker process over --profile-seconds",
    )
    parser.add_argument("--profile-seconds", type=float, default=5.0)
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
    with (
        bench_database(args.database_url) as url,
        running_server(
            database_url=url,
            workers=args.workers,
            extra_env=extra,
            split=args.split,
            worker_processes=args.worker_processes,
        ) as server,
    ):
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
            # Without --split the workers share the API's process (and the fakes'): its CPU.
            workers = list(server.worker_pids) or [server.api_pid]
            cpu_before = _cpu_seconds(workers)
            with (
                profiled(workers[0], args.profile, args.profile_seconds),
                _sampled(workers, Path(tempfile.mkdtemp()), args.phases) as samples,
            ):
                start = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    ids = list(
                        pool.map(
                            lambda _: http.post("/v1/posts", json=body).json()["id"],
                            range(args.posts),
                        )
                    )
                created = time.perf_counter() - start
                wanted = set(ids)
                # One cheap query per poll (is anything still publishing?), not one per post:
                # the benchmark must not be the load it measures.
                busy = {"status": "publishing", "limit": 1}
                while http.get("/v1/posts", params=busy).json()["data"]:
                    time.sleep(0.1)
                elapsed = time.perf_counter() - start
                worker_cpu = _cpu_seconds(workers) - cpu_before
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
        per_target = 1000 * worker_cpu / targets
        whose = "worker processes" if server.worker_pids else "server process (API and fakes too)"
        print(f"CPU of the {whose}: {per_target:.1f} ms per target")
        if args.phases:
            for name, share in _phase_shares(samples).items():
                print(f"  {name:<36} {share * per_target:6.1f} ms  ({share:.0%})")


if __name__ == "__main__":
    main()
