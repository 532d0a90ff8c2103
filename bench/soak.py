"""Soak: many posts to all six sandbox platforms while worker processes are SIGKILLed at
random and the fakes inject faults; prints posts, kills, duplicates and losses.

Runs `crosspost serve --sandbox` (API only), `crosspost sandbox` (fakes, rate limits lifted)
and `--workers` worker processes that it kills every few seconds and replaces.

    python -m bench.soak [--posts 200] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench._stack import running_server

VIDEO_PLATFORMS = ["youtube", "tiktok", "instagram", "x", "linkedin"]
# Instagram's throttle names whole minutes, LinkedIn's and TikTok's 429s no time at all: their
# share of the faults is 5xx, so the soak measures crash safety, not waiting out throttles.
FAULTS = {"failure_rate": 0.05, "rate_limit_rate": 0.03, "reset_mid_chunk_rate": 0.02}
MINUTE_THROTTLES = {"instagram": {"rate_limit_rate": 0.0, "failure_rate": 0.08}}
MINUTE_THROTTLES["linkedin"] = MINUTE_THROTTLES["tiktok"] = MINUTE_THROTTLES["instagram"]


def main() -> None:
    """Run the soak and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--kill-every", type=float, default=3.0, help="mean seconds")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    from crosspost.media.samples import make_audio, make_video

    extra = {
        "CROSSPOST_FAKE_RATE_LIMITS": "0",
        "CROSSPOST_PACING": "0",
        "CROSSPOST_SANDBOX_POLL_SECONDS": "0.2",
        "CROSSPOST_FAKE_PROCESSING_SECONDS": "0.1",
        "CROSSPOST_JOB_LEASE_SECONDS": "3",
        "CROSSPOST_JOB_BACKOFF_BASE": "0.5",
        "CROSSPOST_JOB_BACKOFF_CAP": "5",
        # The fakes answer within seconds even when loaded: a commit cut off by a kill has
        # landed (or never will) by then.
        "CROSSPOST_COMMIT_SETTLE_SECONDS": "10",
    }
    rng = random.Random(1)
    with running_server(
        database_url=args.database_url, extra_env=extra, split=True, worker_processes=0
    ) as server:
        folder = Path(tempfile.mkdtemp())
        video_path = make_video(folder / "clip.mp4", seconds=4.0, width=720, height=1280)
        audio_path = make_audio(folder / "track.mp3", seconds=3.0)
        for platform in [*VIDEO_PLATFORMS, "soundcloud"]:
            patch = {**FAULTS, **MINUTE_THROTTLES.get(platform, {})}
            httpx.post(f"{server.fakes_url}/{platform}/_fake/faults", json=patch).raise_for_status()
        auth = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=60) as http:
            video = http.post(
                "/v1/media", content=video_path.read_bytes(), headers={"Content-Type": "video/mp4"}
            ).json()
            audio = http.post(
                "/v1/media", content=audio_path.read_bytes(), headers={"Content-Type": "audio/mpeg"}
            ).json()
            markers: dict[str, str] = {}
            for i in range(args.posts):
                audio_post = i % 5 == 4  # one post in five is a track for SoundCloud
                marker = f"soak-{i}"
                body = {
                    "media_id": audio["id"] if audio_post else video["id"],
                    "text": f"{marker} #clip",
                    "targets": ["soundcloud"] if audio_post else VIDEO_PLATFORMS,
                }
                markers[http.post("/v1/posts", json=body).json()["id"]] = marker
            cli = [sys.executable, "-m", "crosspost", "worker", "--concurrency", "4"]

            def spawn() -> subprocess.Popen[bytes]:
                return subprocess.Popen(cli, env=server.env, stdout=subprocess.DEVNULL)

            workers = [spawn() for _ in range(args.workers)]
            start = time.monotonic()
            kills = 0
            next_kill = start + rng.expovariate(1 / args.kill_every)
            while http.get("/v1/posts", params={"status": "publishing", "limit": 1}).json()["data"]:
                if time.monotonic() >= next_kill:
                    victim = workers.pop(rng.randrange(len(workers)))
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    kills += 1
                    workers.append(spawn())
                    next_kill = time.monotonic() + rng.expovariate(1 / args.kill_every)
                time.sleep(0.2)
            elapsed = time.monotonic() - start
            for proc in workers:
                proc.terminate()
                proc.wait()
            published: Counter[tuple[str, str]] = Counter()
            failed: Counter[str] = Counter()
            for post_id, marker in markers.items():
                for target in http.get(f"/v1/posts/{post_id}").json()["targets"]:
                    if target["status"] == "published":
                        published[(target["platform"], marker)] += 1
                    else:
                        error = target["last_error"] or {}
                        failed[f"{target['platform']}:{error.get('code')}"] += 1
            held: Counter[tuple[str, str]] = Counter()
            for platform in [*VIDEO_PLATFORMS, "soundcloud"]:
                state = httpx.get(f"{server.fakes_url}/{platform}/_fake/state").json()
                for item in state["posts"]:
                    text = str(item.get("caption") or item.get("title") or "")
                    held[(platform, text.split(" ", maxsplit=1)[0])] += 1
            by_marker = {marker: post_id for post_id, marker in markers.items()}
            for (platform, marker), count in held.items():
                if count > 1:  # show how it happened: the target's ledger
                    print(f"DUPLICATE {platform} {marker} x{count}:")
                    for event in http.get(f"/v1/posts/{by_marker[marker]}/ledger").json():
                        if event["data"].get("platform") in (platform, None):
                            print(f"  {event['created_at']} {event['event_type']} {event['data']}")
    duplicates = sum(n - 1 for n in held.values() if n > 1)
    lost = len(set(published) - set(held))
    unexplained = len(set(held) - set(published))
    targets = sum(published.values()) + sum(failed.values())
    print(f"database: {args.database_url or 'embedded SQLite'}")
    print(
        f"{args.posts} posts, {targets} targets in {elapsed:.0f} s; {kills} worker SIGKILLs; "
        f"published {sum(published.values())}, failed {sum(failed.values())} {dict(failed)}"
    )
    print(
        f"duplicates on platforms: {duplicates}; lost (published here, absent there): {lost}; "
        f"on a platform but not published here: {unexplained}"
    )


if __name__ == "__main__":
    main()
