"""Seed 002's content-pipeline SLOs, measured over real HTTP against `crosspost serve
--sandbox` (API, workers and the strict fakes of Twitch, GitHub, OpenAI and Discord in one
process, as a user runs it) on a temp database of its own.

1. Request acknowledgement (SLO p95 < 200 ms, p99 < 500 ms): `POST /v1/content/generate`
   with `mode: async` and `POST /v1/pipelines/{id}/runs`, each answered 202, `--requests`
   of each one after another and again from `--concurrency` clients at once, every request
   with an Idempotency-Key of its own. The server runs no workers here, so what is measured
   is the API's answer alone (the jobs stay queued).
2. Async generation (SLO p95 < 3 s, p99 < 6 s): a daily recap of 100 content items ready
   for content (seeded in the database, with the day's GitHub events), from the POST to the
   job's `succeeded` (`GET /v1/jobs/{id}` polled every 20 ms), `--repeats` times; then the
   same request answered in `sync` mode, and (`--pr-repeats`) with `open_pull_request`,
   committed and proposed on the GitHub fake, the pipeline telling Discord's fake.
3. Index look-ups (SLO p95 < 50 ms, p99 < 200 ms): `GET /v1/content-items` with seed 002's
   filters over `--items` content items of one tenant (four pipelines, 90 days) and a fifth
   as many of another tenant's, bulk-inserted; `--lookups` requests per query.

Figures are printed beside their SLO with PASS or MISS, as information: timings are never
asserted. After the bulk load the planner's statistics are refreshed, as PostgreSQL's
autovacuum would within the minute and the hourly maintenance job does on SQLite.

    python -m bench.pipeline_slo [--short] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

A PostgreSQL URL names the server: the bench creates (and drops) databases of its own there.
`--short`: 100 requests, 5 repeats, 10,000 items (about a minute on a quiet machine).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from bench._stack import Server, bench_database, percentile, running_server
from crosspost.config import Settings
from crosspost.domain.enums import Mode
from crosspost.engine import tenants
from crosspost.engine.keys import default_tenant, issue_key
from crosspost.engine.services import Services
from crosspost.identity.audit import Actor
from crosspost.ids import new_id
from crosspost.pipeline.github_events import Event
from crosspost.pipeline.github_webhook import event_row
from crosspost.store import content_items as item_rows
from crosspost.store import pipelines as pipeline_rows
from crosspost.store.tables_pipeline import content_items

REPO = "sandbox-dev/crosspost-demo"  # the sandbox's sample repository (the GitHub fake's)
CHANNEL = "sandbox_streamer"  # the sandbox's sample Twitch channel
RECAP_ITEMS = 100
_CATEGORIES = ("development", "development", "development", "tutorial", "review", "gaming", "other")
_WORDS = (
    "fix", "webhook", "retry", "worker", "release", "tests", "refactor", "queue", "cache",
    "deploy", "migration", "api", "bug", "feature", "review", "stream", "python", "vue",
)  # fmt: skip


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slo:
    """Seed 002's targets of one kind of figure, in seconds."""

    p95: float
    p99: float

    def text(self) -> str:
        def show(seconds: float) -> str:
            return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"

        return f"p95 < {show(self.p95)}, p99 < {show(self.p99)}"


ACK = Slo(0.200, 0.500)  # "Synchronous Request Acknowledgement"
GENERATION = Slo(3.0, 6.0)  # "Async Content Generation"
LOOKUP = Slo(0.050, 0.200)  # "Index Lookup Performance"


@dataclass
class Figure:
    """The latencies (seconds) of one kind of request and the SLO they are held to."""

    name: str
    slo: Slo | None
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    note: str = ""

    def line(self) -> str:
        s = self.samples
        p50, p95, p99 = (percentile(s, q) for q in (0.5, 0.95, 0.99))
        text = (
            f"{self.name:<55} n={len(s):<4} p50 {_show(p50):>8}  p95 {_show(p95):>8}  "
            f"p99 {_show(p99):>8}  max {_show(max(s) if s else float('nan')):>8}"
        )
        if self.errors:
            text += f"  errors {self.errors}"
        if self.slo is not None:
            verdict = "PASS" if p95 < self.slo.p95 and p99 < self.slo.p99 else "MISS"
            text += f"  [SLO {self.slo.text()}: {verdict}]"
        if self.note:
            text += f"  ({self.note})"
        return text


def _show(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _report(figure: Figure, figures: list[Figure]) -> None:
    figures.append(figure)
    print(figure.line(), flush=True)


# --- the stack -----------------------------------------------------------------------------


def _client(server: Server, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {key or server.key}"},
        timeout=120,
    )


@contextmanager
def _server(database_url: str, workers: int) -> Iterator[Server]:
    """`crosspost serve --sandbox` on the database; its home folder removed afterwards."""
    home: Path | None = None
    try:
        with running_server(database_url=database_url, workers=workers) as server:
            home = server.home
            yield server
    finally:
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _services(server: Server, database_url: str) -> Iterator[Services]:
    """Services of the bench's own on the server's database and home (its vault), to seed
    rows the way the app's own code writes them."""
    settings = Settings(
        _env_file=None, home=server.home, database_url=database_url, sandbox=True, workers=0
    )
    svc = Services.build(settings)
    try:
        yield svc
    finally:
        svc.close()


def _pipeline(http: httpx.Client, name: str, **extra: Any) -> str:
    """A test pipeline on the sandbox's sample channel and repository; its id."""
    body = {
        "name": name,
        "twitch_login": CHANNEL,
        "repositories": [REPO],
        "match_window_minutes": 120,
        "recap": {"repository": REPO},
        **extra,
    }
    answer = http.post("/v1/pipelines", json=body)
    if answer.status_code != 201:
        raise RuntimeError(f"POST /v1/pipelines answered {answer.status_code}: {answer.text}")
    return str(answer.json()["id"])


def _midnight(days_ago: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


# --- 1. acknowledgement ----------------------------------------------------------------------


def _ack_phase(server: Server, pipeline_id: str, args: argparse.Namespace) -> list[Figure]:
    day = _midnight(1)
    window = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}
    generate = {"date_range": window, "content_type": "daily_recap", "pipeline_id": pipeline_id,
                "mode": "async"}  # fmt: skip
    run = {"since": window["start"], "until": window["end"]}
    endpoints = (
        ("POST /v1/content/generate (async)", "/v1/content/generate", generate),
        ("POST /v1/pipelines/{id}/runs", f"/v1/pipelines/{pipeline_id}/runs", run),
    )
    prefix = f"slo-{secrets.token_hex(4)}-"
    count = itertools.count()
    figures = []
    for name, path, body in endpoints:

        def send(http: httpx.Client, path: str = path, body: dict[str, Any] = body) -> float:
            headers = {"Idempotency-Key": f"{prefix}{next(count)}"}
            started = time.perf_counter()
            answer = http.post(path, json=body, headers=headers)
            elapsed = time.perf_counter() - started
            if answer.status_code != 202:
                raise _Refused(f"{path} answered {answer.status_code}: {answer.text[:300]}")
            return elapsed

        with _client(server) as http:
            for _ in range(10):  # warm-up; a refusal here means the bench is miswired
                send(http)
            sequential = Figure(f"{name}, 1 client", ACK)
            for _ in range(args.requests):
                _timed(sequential, lambda: send(http))
        figures.append(sequential)
        concurrent = Figure(f"{name}, {args.concurrency} clients", ACK)
        _concurrently(server, concurrent, send, args.requests, args.concurrency)
        figures.append(concurrent)
    return figures


class _Refused(Exception):
    """A request answered otherwise than the bench expects."""


def _timed(figure: Figure, call: Callable[[], float]) -> None:
    try:
        figure.samples.append(call())
    except _Refused as exc:
        figure.errors += 1
        if figure.errors == 1:
            print(f"  first error: {exc}", flush=True)


def _concurrently(
    server: Server,
    figure: Figure,
    send: Callable[[httpx.Client], float],
    total: int,
    clients: int,
) -> None:
    """`total` requests from `clients` threads, each with its own keep-alive connection."""
    lock = threading.Lock()
    left = [total]

    def client() -> None:
        with _client(server) as http:
            send(http)  # opens the connection outside the measurement
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                _timed(figure, lambda: send(http))

    with ThreadPoolExecutor(clients) as pool:
        for done in [pool.submit(client) for _ in range(clients)]:
            done.result()


# --- 2. generation ---------------------------------------------------------------------------


def _seed_recap(svc: Services, tenant_id: str, pipeline_id: str, day: datetime) -> None:
    """100 items of one pipeline ready for content within `day`, and the day's GitHub events
    on the repository, written with the store's own functions."""
    rng = random.Random(2)
    now = svc.clock.now()
    pipeline = {"id": pipeline_id, "tenant_id": tenant_id}
    with svc.db.write() as conn:
        for n in range(RECAP_ITEMS):
            item_id = new_id("ci")
            created = day + timedelta(seconds=rng.uniform(0, 86_000))
            item_rows.add_item(conn, _item(rng, item_id, tenant_id, pipeline_id, n, created, now))
            item_rows.update_item(conn, item_id, _ready(rng, now))
        events = []
        for n in range(40):
            kind, action = rng.choice(
                (("commit", "pushed"), ("commit", "pushed"), ("pull_request", "opened"),
                 ("pull_request", "merged"), ("issue", "opened"), ("issue", "closed"))
            )  # fmt: skip
            ref = secrets.token_hex(20) if kind == "commit" else str(100 + n)
            path = {"commit": "commit", "pull_request": "pull", "issue": "issues"}[kind]
            event = Event(
                repository=REPO,
                kind=kind,
                ref=ref,
                action=action,
                title=" ".join(rng.choices(_WORDS, k=6)).capitalize(),
                url=f"https://github.com/{REPO}/{path}/{ref}",
                author="sandbox-dev",
                occurred_at=day + timedelta(seconds=rng.uniform(0, 86_000)),
                detail={"branch": "main"} if kind == "commit" else {},
            )
            events.append(event_row(pipeline, event, "webhook", now))
        pipeline_rows.add_events(conn, events)


def _item(
    rng: random.Random,
    item_id: str,
    tenant_id: str,
    pipeline_id: str,
    n: int,
    created: datetime,
    now: datetime,
) -> dict[str, Any]:
    """A pending item's columns, as a run's `_add_item` writes them."""
    clip = f"SlowClip{n:07d}"
    return {
        "id": item_id,
        "tenant_id": tenant_id,
        "pipeline_id": pipeline_id,
        "platform": "twitch",
        "clip_id": clip,
        "clip_title": " ".join(rng.choices(_WORDS, k=5)).capitalize(),
        "clip_url": f"https://clips.twitch.tv/{clip}",
        "clip_embed_url": f"https://clips.twitch.tv/embed?clip={clip}",
        "clip_thumbnail_url": f"https://clips-media-assets2.twitch.tv/{clip}-preview-480x272.jpg",
        "clip_duration": round(rng.uniform(5, 60), 1),
        "clip_view_count": int(10 ** rng.uniform(0, 4)),
        "clip_created_at": created,
        "broadcaster_name": CHANNEL,
        "creator_name": f"viewer{n % 50}",
        "processing_status": "pending",
        "review": "pending",
        "stored_at": now,
        "updated_at": now,
    }


def _ready(rng: random.Random, now: datetime) -> dict[str, Any]:
    """What the steps leave on an item that reached ready_for_content."""
    words = rng.choices(_WORDS, k=45)
    scores = {name: round(rng.random(), 2)
              for name in ("coherence", "correctness", "dev_signal", "confidence")}  # fmt: skip
    return {
        "processing_status": "ready_for_content",
        "transcript_summary": " ".join(words)[:280],
        "transcript_size_bytes": rng.randint(800, 6000),
        "transcript_origin": "transcribed",
        "github_summary": f"{rng.randint(1, 5)} commits, {rng.randint(0, 2)} pull requests "
        f"on {REPO}",
        "github_context_size_bytes": rng.randint(300, 3000),
        "match_confidence": round(rng.random(), 3),
        "content_score": round(rng.uniform(10, 95), 1),
        "content_category": rng.choice(_CATEGORIES),
        "content_tags": sorted(set(rng.choices(_WORDS, k=3))),
        "judgement": {"judge": "heuristic", **scores, "reasons": ["bench"]},
        "enhanced_at": now,
        "content_ready_at": now,
        "updated_at": now,
    }


def _generation_phase(server: Server, url: str, args: argparse.Namespace) -> list[Figure]:
    day = _midnight(1)
    with _client(server) as http, _services(server, url) as svc:
        pipeline_id = _pipeline(http, "Recaps")
        _seed_recap(svc, default_tenant(svc), pipeline_id, day)
        window = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}
        body = {"date_range": window, "content_type": "daily_recap", "pipeline_id": pipeline_id}
        figures = []

        asynchronous = Figure(f"daily recap of {RECAP_ITEMS} items, async (POST->succeeded)",
                              GENERATION)  # fmt: skip
        server_side: list[float] = []
        _wait_job(http, body, server_side)  # warm-up (templates, first connections)
        for _ in range(args.repeats):
            asynchronous.samples.append(_wait_job(http, body, server_side))
        asynchronous.note = f"server-side job time p50 {_show(percentile(server_side, 0.5))}"
        figures.append(asynchronous)

        sync = Figure(f"daily recap of {RECAP_ITEMS} items, sync (200)", GENERATION)
        for _ in range(args.repeats):
            started = time.perf_counter()
            answer = http.post("/v1/content/generate", json={**body, "mode": "sync"})
            sync.samples.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"sync generation answered {answer.status_code}: {answer.text}")
            total = answer.json()["summary"]["total_clips"]
            if total != RECAP_ITEMS:
                raise RuntimeError(f"the recap counted {total} clips, not {RECAP_ITEMS}")
        figures.append(sync)

        if args.pr_repeats:
            # Told on Discord from now on (the fake holds to Discord's 5 messages per 2 s
            # per webhook: the figures above would have run into it, these few do not).
            hook = httpx.post(f"{server.fakes_url}/discord/_fake/webhooks", json={"name": "r"})
            hook.raise_for_status()
            patched = http.patch(
                f"/v1/pipelines/{pipeline_id}", json={"discord_webhook_url": hook.json()["url"]}
            )
            patched.raise_for_status()
            proposed = Figure("... async + open_pull_request (GitHub, Discord fakes)", GENERATION)
            pr_server: list[float] = []
            for _ in range(args.pr_repeats):
                proposed.samples.append(
                    _wait_job(http, {**body, "open_pull_request": True}, pr_server)
                )
            proposed.note = (
                f"first, opening the PR: {_show(proposed.samples[0])}; "
                f"server-side p50 {_show(percentile(pr_server, 0.5))}"
            )
            figures.append(proposed)
    return figures


def _wait_job(http: httpx.Client, body: dict[str, Any], server_side: list[float]) -> float:
    """POST an async generation and poll its job until it ends; the seconds from the POST
    to seeing it succeeded (and the job's own finished_at - created_at in `server_side`)."""
    started = time.perf_counter()
    answer = http.post(
        "/v1/content/generate",
        json={**body, "mode": "async"},
        headers={"Idempotency-Key": f"slo-gen-{secrets.token_hex(8)}"},
    )
    if answer.status_code != 202:
        raise RuntimeError(f"async generation answered {answer.status_code}: {answer.text}")
    job_id = answer.json()["job_id"]
    deadline = started + 120
    while time.perf_counter() < deadline:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "succeeded":
            elapsed = time.perf_counter() - started
            total = job["result"]["summary"]["total_clips"]
            if total != RECAP_ITEMS:
                raise RuntimeError(f"the recap counted {total} clips, not {RECAP_ITEMS}")
            if body.get("open_pull_request") and not job["result"].get("pull_request"):
                raise RuntimeError(f"generation job {job_id} proposed no pull request: {job}")
            created = datetime.fromisoformat(job["created_at"])
            finished = datetime.fromisoformat(job["finished_at"])
            server_side.append((finished - created).total_seconds())
            return elapsed
        if job["status"] == "failed":
            raise RuntimeError(f"generation job {job_id} failed: {job['error']}")
        time.sleep(0.02)
    raise RuntimeError(f"generation job {job_id} did not end within 120 s")


# --- 3. index look-ups -----------------------------------------------------------------------


def _bulk_items(
    svc: Services, owners: list[tuple[str, str]], count: int, start: datetime, days: int
) -> float:
    """`count` items spread over `owners` ((tenant, pipeline) pairs, round robin) and `days`
    days from `start`, inserted in batches by executemany; the seconds it took."""
    rng = random.Random(3)
    now = svc.clock.now()
    span = days * 86_400
    batch: list[dict[str, Any]] = []
    blank: dict[str, Any] = dict.fromkeys(content_items.c.keys())
    started = time.perf_counter()
    for n in range(count):
        tenant_id, pipeline_id = owners[n % len(owners)]
        created = start + timedelta(seconds=rng.uniform(0, span))
        # executemany takes one set of columns: every row names them all.
        row = {**blank, **_item(rng, new_id("ci"), tenant_id, pipeline_id, n, created, now)}
        roll = rng.random()
        if roll < 0.85:
            row.update(_ready(rng, now))
            row["review"] = rng.choice(("pending", "pending", "pending", "approved", "rejected"))
        elif roll < 0.90:
            row["processing_status"] = "failed"
            row["error"] = {"code": "clip_unavailable", "message": "gone",
                            "occurred_at": now.isoformat()}  # fmt: skip
        else:
            row["processing_status"] = rng.choice(
                ("pending", "queued", "audio_ready", "transcribed", "enhanced")
            )
        batch.append(row)
        if len(batch) == 2000 or n == count - 1:
            with svc.db.write() as conn:
                conn.execute(content_items.insert(), batch)
            batch = []
    return time.perf_counter() - started


def _lookup_phase(
    server: Server, url: str, pipeline_id: str, args: argparse.Namespace
) -> list[Figure]:
    days = 90
    start = _midnight(days)
    with _client(server) as http, _services(server, url) as svc:
        tenant_a = default_tenant(svc)
        mine = [pipeline_id] + [_pipeline(http, f"Channel {n}") for n in range(2, 5)]
        with svc.db.write() as conn:
            other = tenants.create(svc, conn, name="bench noise", actor=Actor.cli())["id"]
        _, other_key = issue_key(svc, tenant_id=other, name="noise", mode=Mode.TEST)
        with _client(server, other_key) as http_b:
            theirs = _pipeline(http_b, "Someone else's")
        noise = args.items // 5
        # Tenant B's rows interleave with A's (one in six), as two busy tenants' would.
        owners = [(tenant_a, p) for p in mine] + [(tenant_a, mine[0]), (other, theirs)]
        seconds = _bulk_items(svc, owners, args.items + noise, start, days)
        total = args.items + noise
        print(
            f"  inserted {total:,} items ({args.items:,} of 4 pipelines + {noise:,} of another "
            f"tenant, {days} days) in {seconds:.1f} s = {total / seconds:,.0f} rows/s",
            flush=True,
        )
        if svc.db.is_sqlite:
            svc.db.refresh_statistics()
        else:
            with svc.db.write() as conn:
                conn.exec_driver_sql("ANALYZE content_items")
        day = start + timedelta(days=days // 2)
        one_day = {"since": day.isoformat(), "until": (day + timedelta(days=1)).isoformat()}
        queries: list[tuple[str, dict[str, Any]]] = [
            ("pipeline_id", {"pipeline_id": pipeline_id}),
            ("since/until (one day)", one_day),
            ("pipeline_id + one day", {"pipeline_id": pipeline_id, **one_day}),
            ("min_views=1000", {"min_views": 1000}),
            ("category=tutorial", {"category": "tutorial"}),
            ("status=failed", {"status": "failed"}),
            ("sort_by=content_score desc", {"sort_by": "content_score", "sort_order": "desc"}),
            ("sort_by=view_count desc", {"sort_by": "view_count"}),
            ("pipeline + day + ready, by score",
             {"pipeline_id": pipeline_id, **one_day, "status": "ready_for_content",
              "sort_by": "content_score"}),
        ]  # fmt: skip
        cursor_of = {"pipeline_id": pipeline_id, "sort_by": "content_score"}
        cursor = None
        for _ in range(4):  # pages 1 to 4, to reach the cursor of page 5
            page = _get_items(http, {**cursor_of, **({"cursor": cursor} if cursor else {})})
            cursor = page["next_cursor"]
        queries.append(("pipeline by score, page 5 (cursor)", {**cursor_of, "cursor": cursor}))
        figures = []
        for name, params in queries:
            shown = len(_get_items(http, params)["data"])  # warm-up, and a check
            figure = Figure(f"GET /v1/content-items {name}", LOOKUP, note=f"{shown} items")
            for _ in range(args.lookups):
                started = time.perf_counter()
                _get_items(http, params)
                figure.samples.append(time.perf_counter() - started)
            figures.append(figure)
            print(figure.line(), flush=True)
    return figures


def _get_items(http: httpx.Client, params: dict[str, Any]) -> dict[str, Any]:
    answer = http.get("/v1/content-items", params=params)
    if answer.status_code != 200:
        raise RuntimeError(f"GET /v1/content-items answered {answer.status_code}: {answer.text}")
    body: dict[str, Any] = answer.json()
    return body


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    """Run the three phases and print the figures beside seed 002's SLOs."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server to create temp databases on (default: SQLite files)",
    )
    parser.add_argument("--short", action="store_true", help="small sizes, for CI")
    parser.add_argument("--requests", type=int, default=None, help="per endpoint and way (500)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients")
    parser.add_argument("--repeats", type=int, default=None, help="generations timed (20)")
    parser.add_argument("--pr-repeats", type=int, default=None, help="with open_pull_request (5)")
    parser.add_argument("--items", type=int, default=None, help="content items (100,000)")
    parser.add_argument("--lookups", type=int, default=None, help="requests per query (200)")
    parser.add_argument(
        "--phases", default="ack,generate,lookup", help="which of ack,generate,lookup to run"
    )
    args = parser.parse_args()
    for name, full, short in (("requests", 500, 100), ("repeats", 20, 5), ("pr_repeats", 5, 2),
                              ("items", 100_000, 10_000), ("lookups", 200, 40)):  # fmt: skip
        if getattr(args, name) is None:
            setattr(args, name, short if args.short else full)
    phases = set(args.phases.split(","))
    where = (
        make_url(args.database_url).render_as_string(hide_password=True)
        if args.database_url
        else "SQLite"
    )
    load = os.getloadavg()[0]
    print(f"database: {where} (a temp database per server); load average {load:.1f}", flush=True)
    figures: dict[int, list[Figure]] = {1: [], 2: [], 3: []}
    began = time.perf_counter()
    if phases & {"ack", "lookup"}:
        with (
            bench_database(args.database_url) as url,
            _server(url, workers=0) as server,
        ):
            with _client(server) as http:
                pipeline_id = _pipeline(http, "Dev streams")
            if "ack" in phases:
                print("1. acknowledgement (no workers: the API's answer alone)", flush=True)
                for figure in _ack_phase(server, pipeline_id, args):
                    _report(figure, figures[1])
            if "lookup" in phases:
                print("3. index look-ups", flush=True)
                figures[3] += _lookup_phase(server, url, pipeline_id, args)
    if "generate" in phases:
        with (
            bench_database(args.database_url) as url,
            _server(url, workers=4) as server,
        ):
            print("2. generation (4 workers in the server)", flush=True)
            for figure in _generation_phase(server, url, args):
                _report(figure, figures[2])
    print(
        f"\nsummary ({time.perf_counter() - began:.0f} s, load average {os.getloadavg()[0]:.1f}; "
        "the SLO verdicts are information only):"
    )
    for phase in sorted(figures):
        for figure in figures[phase]:
            print(figure.line())


if __name__ == "__main__":
    main()
