"""How posts performed, over real HTTP against the fakes, with one clock the test moves for
crosspost and the fakes alike: each platform's counts are fetched on the schedule and grow,
failures are explained and retried, a post taken down or an account disconnected stops its
schedule, and the reports group what was fetched. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crosspost.cli import app
from crosspost.fakes.app import create_sandbox_app
from crosspost.fakes.base import FakeConfig, Faults
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.flags.manage import kill_flag
from crosspost.identity.audit import Actor
from crosspost.media.samples import make_audio
from crosspost.store.tables import jobs, webhook_events
from crosspost.webhooks.catalogue import validate_payload
from tests.e2e.conftest import Stack, expect_problem, wait_until
from tests.e2e.dashboard import Browser, with_owner

FINAL = {"published", "partially_published", "failed", "cancelled"}
HOUR = 3600.0


class MovingClock:
    """Wall time plus an offset the test moves forward: crosspost's clock and the fakes'."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """crosspost's view."""
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def epoch(self) -> float:
        """The fakes' view (epoch seconds)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Jump forward."""
        with self._lock:
            self.offset += seconds


@pytest.fixture(scope="module")
def moving() -> Iterator[tuple[MovingClock, RunningServer]]:
    """One clock and fakes that read it, for the module (each test starts it at zero)."""
    clock = MovingClock()
    config = FakeConfig(clock=clock.epoch, faults=Faults(processing_seconds=0.05))
    server = serve_in_thread(create_sandbox_app(config))
    yield clock, server
    server.stop()


@pytest.fixture
def metered(
    make_stack: Callable[..., Stack], moving: tuple[MovingClock, RunningServer]
) -> tuple[Stack, MovingClock]:
    """A stack on the moving clock and its fakes, planning metrics at once."""
    clock, server = moving
    clock.offset = 0.0
    stack = make_stack(
        clock=clock, on=server, post_metrics_plan_seconds=0.2,
        target_max_transient_errors=3,
    )  # fmt: skip
    return stack, clock


def _publish(stack: Stack, tmp: Path, *platforms: str, text: str = "how did it do") -> str:
    body: dict[str, Any] = {"text": text, "targets": list(platforms)}
    if platforms not in (("x",), ("linkedin",)):
        body["media_id"] = stack.upload_video(tmp, seconds=4.0, width=720, height=1280)["id"]
    made = stack.http.post("/v1/posts", json=body)
    assert made.status_code == 201, made.text
    post = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL, timeout=60)
    assert post["status"] == "published", post
    return str(post["id"])


def _metrics(stack: Stack, post_id: str) -> dict[str, Any]:
    answer = stack.http.get(f"/v1/posts/{post_id}/metrics")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _fetched(stack: Stack, post_id: str, samples: int) -> dict[str, Any]:
    """The post's metrics once every target has `samples` fetches."""

    def done() -> dict[str, Any] | None:
        found = _metrics(stack, post_id)
        return found if all(len(t["series"]) >= samples for t in found["targets"]) else None

    return dict(wait_until(f"{samples} fetch(es) of every target of {post_id}", done))


def _events(stack: Stack, post_id: str, event_type: str) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_events.c.payload).where(
                webhook_events.c.post_id == post_id, webhook_events.c.event_type == event_type
            )
        ).all()
    return [json.loads(r.payload) for r in rows]


def test_counts_are_fetched_on_the_schedule_and_grow(
    metered: tuple[Stack, MovingClock], tmp_path: Path
) -> None:
    stack, clock = metered
    post_id = _publish(stack, tmp_path, "youtube", "x")
    before = _metrics(stack, post_id)
    assert all(t["latest"] is None and t["series"] == [] for t in before["targets"])
    assert {t["schedule"]["state"] for t in before["targets"]} <= {"pending", "scheduled"}
    clock.advance(HOUR + 60)
    first = _fetched(stack, post_id, 1)
    clock.advance(5 * HOUR)
    second = _fetched(stack, post_id, 2)
    for target in second["targets"]:
        one, two = target["series"]
        assert 0 < one["views"] < two["views"], target
        assert one["likes"] <= two["likes"]
        assert HOUR <= one["age_seconds"] < 2 * HOUR and two["age_seconds"] >= 6 * HOUR
        assert target["latest"] == two
        published = datetime.fromisoformat(target["published_at"])
        schedule = target["schedule"]
        assert schedule["state"] == "scheduled" and schedule["fetches"] == 2
        assert datetime.fromisoformat(schedule["next_fetch_at"]) == published + timedelta(hours=24)
    youtube = next(t for t in second["targets"] if t["platform"] == "youtube")
    x = next(t for t in second["targets"] if t["platform"] == "x")
    assert youtube["latest"]["shares"] is None and "favorites" in youtube["latest"]["extra"]
    assert set(x["latest"]["extra"]) == {"quotes", "bookmarks"}
    assert second["totals"]["views"] == youtube["latest"]["views"] + x["latest"]["views"]
    assert first["totals"]["views"] < second["totals"]["views"]
    updates = _events(stack, post_id, "post.metrics_updated")
    assert len(updates) == 4
    for event in updates:
        validate_payload(event)
    assert max(e["data"]["metrics"]["views"] for e in updates) == max(
        youtube["latest"]["views"], x["latest"]["views"]
    )


def test_every_platform_reports_its_counts(
    metered: tuple[Stack, MovingClock], tmp_path: Path
) -> None:
    """YouTube statistics, Instagram insights, TikTok video query, X public metrics,
    LinkedIn member post analytics, SoundCloud track counts."""
    stack, clock = metered
    video_post = _publish(stack, tmp_path, "youtube", "tiktok", "instagram", "x", "linkedin")
    audio = make_audio(tmp_path / "track.mp3", seconds=2.0)
    media = stack.http.post(
        "/v1/media", content=audio.read_bytes(),
        headers={"Content-Type": "audio/mpeg", "X-Filename": "track.mp3"},
    ).json()  # fmt: skip
    track = stack.http.post(
        "/v1/posts", json={"media_id": media["id"], "text": "a track", "targets": ["soundcloud"]}
    ).json()
    stack.wait_post(track["id"], lambda p: p["status"] == "published", timeout=60)
    clock.advance(HOUR + 60)
    found = {t["platform"]: t["latest"] for t in _fetched(stack, video_post, 1)["targets"]}
    found["soundcloud"] = _fetched(stack, track["id"], 1)["targets"][0]["latest"]
    for platform, latest in found.items():
        assert latest["views"] and latest["views"] > 0, (platform, latest)
        assert latest["likes"] is not None and latest["comments"] is not None, (platform, latest)
    extras = {platform: set(latest["extra"]) for platform, latest in found.items()}
    assert extras["instagram"] == {"reach", "saves", "interactions"}
    assert extras["linkedin"] == {"reach"}
    assert extras["soundcloud"] == {"downloads"}
    assert extras["tiktok"] == set()


def test_a_failing_fetch_is_explained_retried_and_then_left_to_the_next_time(
    metered: tuple[Stack, MovingClock], tmp_path: Path
) -> None:
    stack, clock = metered
    post_id = _publish(stack, tmp_path, "x")
    stack.fake("x", "faults", json={"failure_rate": 1.0})
    clock.advance(HOUR + 60)

    def given_up() -> dict[str, Any] | None:
        [target] = _metrics(stack, post_id)["targets"]
        error = target["schedule"]["last_error"]
        return target if error and error["failures"] >= 3 else None

    target = wait_until("three failed tries of the 1 h fetch", given_up)
    assert target["series"] == [] and target["status"] == "published"
    error = target["schedule"]["last_error"]
    assert (error["kind"], error["code"]) == ("transient", "service_unavailable"), error
    published = datetime.fromisoformat(target["published_at"])
    # Three tries: then the 6 h fetch is waited for rather than trying again and again.
    assert datetime.fromisoformat(target["schedule"]["next_fetch_at"]) == published + timedelta(
        hours=6
    )
    ledger = stack.http.get(f"/v1/posts/{post_id}/ledger").json()
    failed = [e["data"] for e in ledger if e["event_type"] == "metrics_fetch_failed"]
    assert [f["attempt"] for f in failed] == [1, 2, 3], failed
    assert stack.http.get(f"/v1/posts/{post_id}").json()["status"] == "published"
    httpx.delete(f"{stack.fakes_url}/x/_fake/faults").raise_for_status()
    clock.advance(5 * HOUR)
    [target] = _fetched(stack, post_id, 1)["targets"]
    assert target["schedule"]["last_error"] is None and target["schedule"]["fetches"] == 1


def test_a_post_taken_down_or_an_account_disconnected_stops_the_schedule(
    metered: tuple[Stack, MovingClock], tmp_path: Path
) -> None:
    stack, clock = metered
    down = _publish(stack, tmp_path, "x", text="soon down")
    gone = _publish(stack, tmp_path, "linkedin", text="account goes")
    clock.advance(HOUR + 60)
    _fetched(stack, down, 1)
    _fetched(stack, gone, 1)
    [target] = stack.http.get(f"/v1/posts/{down}").json()["targets"]
    taken = stack.http.delete(f"/v1/posts/{down}/targets/{target['id']}/remote")
    assert taken.status_code == 200, taken.text
    [stopped] = _metrics(stack, down)["targets"]
    assert (stopped["schedule"]["state"], stopped["schedule"]["stop_reason"]) == (
        "stopped", "deleted"
    )  # fmt: skip
    account = next(a for a in stack.http.get("/v1/accounts").json() if a["platform"] == "linkedin")
    assert stack.http.delete(f"/v1/accounts/{account['id']}").status_code == 200
    clock.advance(5 * HOUR)

    def stopped_for_account() -> bool:
        [t] = _metrics(stack, gone)["targets"]
        return t["schedule"]["stop_reason"] == "account_disconnected"

    wait_until("the disconnected account's schedule to stop", stopped_for_account)

    def no_metrics_jobs() -> bool:
        with stack.svc.db.read() as conn:
            left = conn.execute(sa.select(jobs.c.id).where(jobs.c.kind == "metrics.fetch.v1"))
            return left.first() is None

    wait_until("every metrics job to end", no_metrics_jobs)
    assert len(_metrics(stack, down)["targets"][0]["series"]) == 1
    assert len(_metrics(stack, gone)["targets"][0]["series"]) == 1


def test_the_report_groups_by_platform_account_and_day(
    metered: tuple[Stack, MovingClock], tmp_path: Path
) -> None:
    stack, clock = metered
    first = _publish(stack, tmp_path, "youtube", "x")
    second = _publish(stack, tmp_path, "x", text="again")
    clock.advance(HOUR + 60)
    fetched = [t for p in (first, second) for t in _fetched(stack, p, 1)["targets"]]
    latest = [t["latest"] for t in fetched]
    by_platform = stack.http.get("/v1/analytics/posts", params={"group_by": "platform"})
    assert by_platform.status_code == 200, by_platform.text
    groups = {g["key"]: g for g in by_platform.json()["groups"]}
    assert set(groups) == {"youtube", "x"}
    assert (groups["x"]["posts"], groups["x"]["targets"], groups["x"]["measured"]) == (2, 2, 2)
    assert sum(g["views"] for g in groups.values()) == sum(s["views"] for s in latest)
    accounts = stack.http.get("/v1/analytics/posts", params={"group_by": "account"}).json()
    assert {g["key"][:4] for g in accounts["groups"]} == {"acc_"} and len(accounts["groups"]) == 2
    day = stack.http.get("/v1/analytics/posts", params={"group_by": "day"}).json()
    [only] = day["groups"]
    days = {datetime.fromisoformat(t["published_at"]).strftime("%Y-%m-%d") for t in fetched}
    assert [only["key"]] == sorted(days)
    assert (only["posts"], only["targets"]) == (2, 3)
    x_only = stack.http.get("/v1/analytics/posts", params={"platform": "x"}).json()
    assert [g["key"] for g in x_only["groups"]] == ["x"]
    later = (clock.now() + timedelta(days=1)).isoformat()
    window = {"from": later, "to": later[:10] + "T23:59:59Z"}
    empty = stack.http.get("/v1/analytics/posts", params=window)
    assert empty.status_code == 200 and empty.json()["groups"] == [], empty.text


def test_bad_requests_are_refused(metered: tuple[Stack, MovingClock], tmp_path: Path) -> None:
    stack, _ = metered
    expect_problem(stack.http.get("/v1/posts/pst_nope/metrics"), 404)
    later = {"text": "later", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"}
    scheduled = stack.http.post("/v1/posts", json=later).json()
    refused = expect_problem(
        stack.http.get(f"/v1/posts/{scheduled['id']}/metrics"), 409, "not_published"
    )
    assert "an hour after" in refused["detail"]
    report = "/v1/analytics/posts"
    expect_problem(stack.http.get(report, params={"group_by": "week"}), 422)
    expect_problem(stack.http.get(report, params={"platform": "myspace"}), 422)
    expect_problem(
        stack.http.get(report, params={"from": "2026-03-02", "to": "2026-03-01"}),
        422,
        "invalid_time_range",
    )
    expect_problem(
        stack.http.get(report, params={"from": "2024-01-01", "to": "2026-01-01"}),
        422,
        "invalid_time_range",
    )
    expect_problem(stack.http.get(report, params={"from": "yesterday"}), 422)
    kill_flag(stack.svc.db, "posts.metrics", actor=Actor.cli(), now=stack.svc.clock.now())
    wait_until(
        "the flag to switch the report off",
        lambda: stack.http.get(report).json().get("code") == "feature_disabled",
    )
    expect_problem(stack.http.get(f"/v1/posts/{scheduled['id']}/metrics"), 404, "feature_disabled")


def test_the_cli_shows_a_posts_metrics(
    metered: tuple[Stack, MovingClock], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, clock = metered
    post_id = _publish(stack, tmp_path, "x", text="cli metrics")
    clock.advance(HOUR + 60)
    [target] = _fetched(stack, post_id, 1)["targets"]
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CROSSPOST_API_URL", stack.api_url)
    monkeypatch.setenv("CROSSPOST_API_KEY", stack.key)
    shown = CliRunner().invoke(app, ["metrics", post_id], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert f"{target['latest']['views']:,}" in shown.stdout and target["target_id"] in shown.stdout
    as_json = CliRunner().invoke(app, ["metrics", post_id, "--json"])
    assert json.loads(as_json.stdout)["targets"][0]["latest"] == target["latest"]
    missing = CliRunner().invoke(app, ["metrics", "pst_nope"])
    assert missing.exit_code == 1 and "not_found" in missing.stderr, missing.output


@pytest.mark.one_database
def test_the_post_page_shows_the_counts_and_charts_views(
    metered: tuple[Stack, MovingClock], tmp_path: Path
) -> None:
    """The dashboard's post page: nothing before a fetch; after two, the API's latest counts
    per platform and their sum, and one bar per fetch of each target's views."""
    stack, clock = metered
    with_owner(stack)
    post_id = _publish(stack, tmp_path, "x")
    assert "not fetched yet" in Browser(stack).http.get(f"/app/posts/{post_id}").text
    clock.advance(HOUR + 60)
    _fetched(stack, post_id, 1)
    clock.advance(5 * HOUR)
    metrics = _fetched(stack, post_id, 2)
    page = Browser(stack).http.get(f"/app/posts/{post_id}")  # signed in anew: 6 h went by
    assert page.status_code == 200
    (target,) = metrics["targets"]
    row = re.search(rf'<tr id="metrics-{target["target_id"]}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    latest = target["latest"]
    assert cells[:4] == [str(latest[n]) if latest[n] is not None else "—"
                         for n in ("views", "likes", "comments", "shares")]  # fmt: skip
    chart = page.text.split(f'id="views-{target["target_id"]}"', 1)[1].split("</svg>", 1)[0]
    labels = [f"{s['age_seconds'] // 3600}h: {s['views']} views" for s in target["series"]]
    assert re.findall(r"<title>([^<]*)</title>", chart) == labels
