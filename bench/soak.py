"""Soak: many posts to all six sandbox platforms while worker processes are SIGKILLed at
random, the fakes inject faults and some posts are edited and rescheduled; prints, per
platform, what crosspost says and what the platforms hold, and exits non-zero when the two
disagree.

Runs `crosspost serve --sandbox` (API only), `crosspost sandbox` (fakes, rate limits lifted)
and `--workers` worker processes that it kills every few seconds and replaces.

    python -m bench.soak [--posts 200] [--database-url postgresql://…]

Every fault the soak injects is retryable (5xx, 429, connections reset mid-chunk), so the
run fails when any target ends anywhere but `published`, when a post is on a platform twice,
on a platform but not `published` here (the customer sees a failure and posts again),
`published` here but absent there, or on a platform with text an edit had replaced.
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._stack import bench_database, running_server

VIDEO_PLATFORMS = ["youtube", "tiktok", "instagram", "x", "linkedin"]
PLATFORMS = [*VIDEO_PLATFORMS, "soundcloud"]
# Instagram's throttle names whole minutes, LinkedIn's and TikTok's 429s no time at all: their
# share of the faults is 5xx, so the soak measures crash safety, not waiting out throttles.
FAULTS = {"failure_rate": 0.05, "rate_limit_rate": 0.03, "reset_mid_chunk_rate": 0.02}
MINUTE_THROTTLES = {"instagram": {"rate_limit_rate": 0.0, "failure_rate": 0.08}}
MINUTE_THROTTLES["linkedin"] = MINUTE_THROTTLES["tiktok"] = MINUTE_THROTTLES["instagram"]
LEDGERS_SHOWN = 5  # per kind of problem: enough to see how it happened


@dataclass
class Tally:
    """What one platform ended with, here and there."""

    targets: int = 0
    published: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # "kind:code" -> targets
    unfinished: int = 0
    held: int = 0
    duplicates: int = 0
    lost: int = 0
    unexplained: int = 0  # on the platform but not published here
    stale: int = 0  # on the platform with text an edit had replaced
    adopted: int = 0  # a retry refused as a duplicate proved the post was there: adopted
    no_id: int = 0  # published, but the platform never showed the post to name it


@dataclass
class Problem:
    """A target that breaks the soak's promise, and the post whose ledger explains it."""

    what: str
    platform: str
    marker: str
    post_id: str


def _held(fakes_url: str) -> Counter[tuple[str, str]]:
    """(platform, marker) -> how many posts the platform holds with that marker."""
    held: Counter[tuple[str, str]] = Counter()
    for platform in PLATFORMS:
        state = httpx.get(f"{fakes_url}/{platform}/_fake/state", timeout=60).json()
        for item in state["posts"]:
            text = str(item.get("caption") or item.get("title") or "")
            held[(platform, text.split(" ", maxsplit=1)[0])] += 1
    return held


def _compare(
    http: httpx.Client,
    markers: dict[str, dict[str, str]],
    held: Counter[tuple[str, str]],
    replaced: dict[str, str],
) -> tuple[dict[str, Tally], list[Problem]]:
    """Set each target's status here against what its platform holds; `markers` gives each
        post's targets the marker they must publish, `replaced` the markers edits replaced (and
    their posts)."""
    tallies = {platform: Tally() for platform in PLATFORMS}
    problems: list[Problem] = []
    answers = {post_id: http.get(f"/v1/posts/{post_id}").json() for post_id in markers}
    expected = {
        (target["platform"], markers[post_id][target["id"]])
        for post_id, post in answers.items()
        for target in post["targets"]
    }
    for (platform, marker), count in held.items():
        if marker in replaced and (platform, marker) not in expected:
            tallies[platform].stale += count
            problems.append(Problem("stale text", platform, marker, replaced[marker]))
    for post_id, by_target in markers.items():
        for target in answers[post_id]["targets"]:
            platform, status = target["platform"], target["status"]
            marker = by_target[target["id"]]
            tally = tallies[platform]
            tally.targets += 1
            count = held.get((platform, marker), 0)
            tally.held += count
            if count > 1:
                tally.duplicates += count - 1
                problems.append(Problem(f"duplicate x{count}", platform, marker, post_id))
            if status == "published":
                tally.published += 1
                tally.no_id += target["external_id"] is None
                if count == 0:
                    tally.lost += 1
                    problems.append(Problem("lost", platform, marker, post_id))
                continue
            if status == "failed":
                error = target["last_error"] or {}
                cause = f"{error.get('kind')}:{error.get('code')}"
                tally.failed[cause] += 1
                problems.append(Problem(f"failed {cause}", platform, marker, post_id))
            else:
                tally.unfinished += 1
                problems.append(Problem(f"unfinished ({status})", platform, marker, post_id))
            if count:
                tally.unexplained += 1
                problems.append(
                    Problem(f"on the platform but {status} here", platform, marker, post_id)
                )
    for post_id in markers:
        for event in http.get(f"/v1/posts/{post_id}/ledger").json():
            if event["event_type"] == "publish_refused_as_existing":
                tallies[event["data"]["platform"]].adopted += 1
    return tallies, problems


def _print_table(tallies: dict[str, Tally]) -> None:
    head = ["platform", "targets", "published", "failed", "unfinished", "held", "dup", "lost"]
    head += ["unexplained", "stale", "adopted", "no-id"]
    print(f"{head[0]:<11}" + "".join(f"{h:>12}" for h in head[1:]))
    total = Tally()
    for platform, t in [*tallies.items(), ("total", total)]:
        if platform != "total":
            total.targets += t.targets
            total.published += t.published
            total.failed.update(t.failed)
            total.unfinished += t.unfinished
            total.held += t.held
            total.duplicates += t.duplicates
            total.lost += t.lost
            total.unexplained += t.unexplained
            total.stale += t.stale
            total.adopted += t.adopted
            total.no_id += t.no_id
        row = [t.targets, t.published, t.failed.total(), t.unfinished, t.held, t.duplicates, t.lost]
        row += [t.unexplained, t.stale, t.adopted, t.no_id]
        print(f"{platform:<11}" + "".join(f"{n:>12}" for n in row))
    print("unexplained: on the platform but not `published` here; adopted: a retry refused as")
    print("a duplicate proved the post was there; no-id: adopted without the platform naming it;")
    print("stale: on the platform with text an edit had replaced")
    for platform, t in tallies.items():
        if t.failed:
            print(f"failed on {platform}: {dict(t.failed)}")


def _print_ledgers(http: httpx.Client, problems: Iterable[Problem]) -> None:
    """The ledger of the first few targets of each kind of problem: how it happened."""
    shown: Counter[str] = Counter()
    for problem in problems:
        kind = problem.what.split(" ", 1)[0]
        shown[kind] += 1
        if shown[kind] > LEDGERS_SHOWN:
            continue
        print(f"{problem.what.upper()}: {problem.platform} {problem.marker} ({problem.post_id})")
        for event in http.get(f"/v1/posts/{problem.post_id}/ledger").json():
            if event["data"].get("platform") in (problem.platform, None):
                print(f"  {event['created_at']} {event['event_type']} {event['data']}")


def _verdict(tallies: dict[str, Tally]) -> list[str]:
    """Why the run failed (empty when it held)."""
    reasons = []
    for platform, t in tallies.items():
        if t.duplicates:
            reasons.append(f"{platform}: {t.duplicates} duplicate posts on the platform")
        if t.lost:
            reasons.append(f"{platform}: {t.lost} targets published here, absent there")
        if t.stale:
            reasons.append(f"{platform}: {t.stale} posts with text an edit had replaced")
        if t.unexplained:
            reasons.append(
                f"{platform}: {t.unexplained} posts on the platform whose target is not "
                "`published` here (the customer would post them again)"
            )
        if t.failed:
            reasons.append(
                f"{platform}: {t.failed.total()} targets failed {dict(t.failed)}, but every "
                "fault the soak injects is retryable"
            )
        if t.unfinished:
            reasons.append(f"{platform}: {t.unfinished} targets never finished")
    return reasons


def _soon(rng: random.Random) -> str:
    """A publish time a few seconds away: soon enough to race the workers."""
    return (datetime.now(UTC) + timedelta(seconds=rng.uniform(1.0, 8.0))).isoformat()


def main() -> None:
    """Run the soak, print the figures, and exit 1 when crosspost and the platforms disagree."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--kill-every", type=float, default=3.0, help="mean seconds")
    parser.add_argument("--edits", type=int, default=None, help="edits (default: posts / 4)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--max-minutes", type=float, default=180.0, help="give up on targets still going then"
    )
    args = parser.parse_args()
    if args.edits is None:
        args.edits = args.posts // 4
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
    with (
        bench_database(args.database_url) as url,
        running_server(database_url=url, extra_env=extra, split=True, worker_processes=0) as server,
    ):
        folder = Path(tempfile.mkdtemp())
        video_path = make_video(folder / "clip.mp4", seconds=4.0, width=720, height=1280)
        audio_path = make_audio(folder / "track.mp3", seconds=3.0)
        for platform in PLATFORMS:
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
            markers: dict[str, dict[str, str]] = {}  # post -> target -> the marker it must show
            for i in range(args.posts):
                audio_post = i % 5 == 4  # one post in five is a track for SoundCloud
                marker = f"soak-{i}"
                body = {
                    "media_id": audio["id"] if audio_post else video["id"],
                    "text": f"{marker} #clip",
                    "targets": ["soundcloud"] if audio_post else VIDEO_PLATFORMS,
                }
                if i % 4 == 1:  # a quarter are scheduled a little later
                    body["publish_at"] = _soon(rng)
                made = http.post("/v1/posts", json=body).json()
                markers[made["id"]] = {t["id"]: marker for t in made["targets"]}
            replaced: dict[str, str] = {}  # markers an edit replaced -> their post
            edits = reached = 0

            def edit_one() -> None:
                nonlocal edits, reached
                post_id = rng.choice(list(markers))
                marker = f"soak-{list(markers).index(post_id)}e{edits}"
                body = {"text": f"{marker} #clip", "publish_at": _soon(rng)}
                answer = http.patch(f"/v1/posts/{post_id}", json=body).json()
                edits += 1
                for target_id in answer.get("edited", []):
                    replaced[markers[post_id][target_id]] = post_id
                    markers[post_id][target_id] = marker
                    reached += 1

            cli = [sys.executable, "-m", "crosspost", "worker", "--concurrency", "4"]

            def spawn() -> subprocess.Popen[bytes]:
                return subprocess.Popen(cli, env=server.env, stdout=subprocess.DEVNULL)

            workers = [spawn() for _ in range(args.workers)]
            start = time.monotonic()
            give_up = start + args.max_minutes * 60
            kills = 0
            next_kill = start + rng.expovariate(1 / args.kill_every)
            while any(
                http.get("/v1/posts", params={"status": status, "limit": 1}).json()["data"]
                for status in ("publishing", "scheduled")
            ):
                if time.monotonic() >= give_up:
                    break
                if edits < args.edits and rng.random() < 0.5:
                    edit_one()
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
            held = _held(server.fakes_url)
            tallies, problems = _compare(http, markers, held, replaced)
            _print_ledgers(http, problems)
    targets = sum(t.targets for t in tallies.values())
    print(f"database: {args.database_url or 'embedded SQLite'}")
    print(f"{args.posts} posts, {targets} targets in {elapsed:.0f} s; {kills} worker SIGKILLs")
    print(f"{edits} edits (new text and publish time) reached {reached} targets")
    _print_table(tallies)
    reasons = _verdict(tallies)
    if reasons:
        print("SOAK FAILED:")
        for reason in reasons:
            print(f"  - {reason}")
        sys.exit(1)
    print("soak held: every target published exactly once, and nothing else on the platforms")


if __name__ == "__main__":
    main()
