"""/v1/exports over real HTTP: posts and ledger to JSON Lines and CSV, progress, download
with its digest, `data_export.ready` in the outbox, ranges, every bad input, expiry, and a
worker SIGKILLed mid-export (the file is still complete, the event sent once)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.domain.enums import Mode
from crosspost.engine import exports
from crosspost.engine.keys import issue_key
from crosspost.ids import new_id
from crosspost.store.tables import exports as export_table
from crosspost.store.tables import ledger_events, tenants, webhook_events
from crosspost.webhooks.catalogue import validate_payload
from tests.e2e.conftest import Stack, expect_problem

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _post(stack: Stack, text: str, targets: tuple[str, ...] = ("x", "linkedin")) -> str:
    answer = stack.http.post("/v1/posts", json={"text": text, "targets": list(targets)})
    assert answer.status_code == 201, answer.text
    post_id = str(answer.json()["id"])
    stack.wait_post(post_id, lambda p: p["status"] in FINAL)
    return post_id


def _start(stack: Stack, **body: Any) -> dict[str, Any]:
    answer = stack.http.post("/v1/exports", json=body)
    assert answer.status_code == 202, answer.text
    made: dict[str, Any] = answer.json()
    return made


def _wait(
    stack: Stack, export_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = stack.http.get(f"/v1/exports/{export_id}").json()
        if done(seen):
            return seen
        time.sleep(0.05)
    pytest.fail(f"export {export_id} did not get there: {seen}")


def _ready(stack: Stack, export_id: str) -> dict[str, Any]:
    return _wait(stack, export_id, lambda e: e["status"] in ("ready", "failed"))


def _download(stack: Stack, export: dict[str, Any]) -> httpx.Response:
    answer = stack.http.get(export["download_url"])
    assert answer.status_code == 200, answer.text
    digest = base64.b64encode(hashlib.sha256(answer.content).digest()).decode()
    assert answer.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert hashlib.sha256(answer.content).hexdigest() == export["sha256"]
    assert len(answer.content) == export["bytes"]
    return answer


def _ready_events(stack: Stack) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        payloads = conn.execute(
            sa.select(webhook_events.c.payload)
            .where(webhook_events.c.event_type == "data_export.ready")
            .order_by(webhook_events.c.id)
        ).scalars()
        return [json.loads(p) for p in payloads]


# --- what an export holds -------------------------------------------------------------------


def test_a_posts_export_is_what_the_api_shows(stack: Stack) -> None:
    """JSON Lines: each post exactly as GET /v1/posts/{id} answers it, oldest first; 202 at
    once, then progress to `ready`, a download whose digest checks, and one `data_export.ready`
    that the catalogue validates."""
    ids = [_post(stack, f"post {n}") for n in range(3)]
    made = _start(stack, kind="posts", format="jsonl")
    assert made["id"].startswith("exp_") and made["status"] in ("queued", "running", "ready")
    assert made["mode"] == "test" and made["since"] is None
    export = _ready(stack, made["id"])
    assert export["status"] == "ready" and export["error"] is None
    assert export["progress"] == {"done": 3, "total": 3}
    assert export["download_url"] == f"/v1/exports/{made['id']}/download"
    answer = _download(stack, export)
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert f'filename="crosspost-posts-{made["id"]}.jsonl"' in answer.headers["content-disposition"]
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert lines == [stack.http.get(f"/v1/posts/{i}").json() for i in ids]
    (event,) = _ready_events(stack)
    validate_payload(event)
    sent = event["data"]["export"]
    assert sent["id"] == made["id"] and sent["rows"] == 3 and sent["sha256"] == export["sha256"]
    assert sent["download_url"] == export["download_url"] and sent["bytes"] == export["bytes"]
    listed = stack.http.get("/v1/exports").json()
    assert [e["id"] for e in listed["data"]] == [made["id"]] and listed["has_more"] is False


def test_a_csv_export_has_a_row_per_target_and_defuses_formulas(stack: Stack) -> None:
    """CSV: a header, then one row per target with its post's columns; a cell a spreadsheet
    would run as a formula starts with an apostrophe."""
    first = _post(stack, '=HYPERLINK("http://evil.example","click")')
    second = _post(stack, 'plain, with "quotes"\nand a newline', targets=("x",))
    export = _ready(stack, _start(stack, format="csv")["id"])
    answer = _download(stack, export)
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    header, *rows = list(csv.reader(io.StringIO(answer.text)))
    assert tuple(header) == exports.POST_COLUMNS
    records = [dict(zip(header, row, strict=True)) for row in rows]
    assert [(r["post_id"], r["platform"]) for r in records] == [
        (first, "x"),
        (first, "linkedin"),
        (second, "x"),
    ]
    assert records[0]["text"] == '\'=HYPERLINK("http://evil.example","click")'
    assert records[2]["text"] == 'plain, with "quotes"\nand a newline'
    for record in records:
        target = stack.http.get(f"/v1/posts/{record['post_id']}").json()["targets"]
        shown = next(t for t in target if t["id"] == record["target_id"])
        assert record["target_status"] == shown["status"] == "published"
        assert record["external_url"] == shown["external_url"]
    assert export["progress"]["done"] == 2  # rows are posts; the file has one per target


def test_a_ledger_export_covers_its_range_only(stack: Stack) -> None:
    """`since`/`until` bound the creation time: the ledger export holds exactly the events
    of the posts made inside the range, in order, as JSON Lines and as CSV."""
    before = _post(stack, "before")
    since = datetime.now(UTC)
    inside = _post(stack, "inside")
    until = datetime.now(UTC)
    after = _post(stack, "after")
    expected = stack.http.get(f"/v1/posts/{inside}/ledger").json()
    window = {"since": since.isoformat(), "until": until.isoformat()}
    export = _ready(stack, _start(stack, kind="ledger", **window)["id"])
    lines = [json.loads(line) for line in _download(stack, export).text.splitlines()]
    # Account events (a token refresh) may fall in the range too; no other post's may.
    assert [x["id"] for x in lines if x["post_id"] == inside] == [e["id"] for e in expected]
    assert not {before, after} & {x["post_id"] for x in lines}
    assert all(since <= datetime.fromisoformat(x["created_at"]) < until for x in lines)
    as_csv = _ready(stack, _start(stack, kind="ledger", format="csv", **window)["id"])
    header, *rows = list(csv.reader(io.StringIO(_download(stack, as_csv).text)))
    assert tuple(header) == exports.LEDGER_COLUMNS
    assert [row[0] for row in rows] == [line["id"] for line in lines]
    assert json.loads(rows[0][-1]) == lines[0]["data"]


def test_the_audit_log_exports_to_admins_only(stack: Stack) -> None:
    """`kind: audit` exports the audit log (what GET /v1/audit shows) as JSON Lines and CSV;
    a key without the admin scope may neither start nor download one."""
    made = stack.http.post("/v1/keys", json={"name": "reader", "role": "viewer"}).json()
    shown = stack.http.get("/v1/audit", params={"limit": 100}).json()["data"]
    export = _ready(stack, _start(stack, kind="audit")["id"])
    lines = [json.loads(line) for line in _download(stack, export).text.splitlines()]
    assert [x["id"] for x in lines] == [e["id"] for e in reversed(shown)]
    assert ("key.created", made["id"]) in {(x["action"], x["target_id"]) for x in lines}
    as_csv = _ready(stack, _start(stack, kind="audit", format="csv")["id"])
    header, *rows = list(csv.reader(io.StringIO(_download(stack, as_csv).text)))
    assert tuple(header) == exports.AUDIT_COLUMNS
    assert [row[0] for row in rows] == [x["id"] for x in lines]
    reader = httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {made['key']}"}, timeout=30
    )
    with reader:
        expect_problem(
            reader.post("/v1/exports", json={"kind": "audit"}), 403, "insufficient_scope"
        )
        expect_problem(reader.get(export["download_url"]), 403, "insufficient_scope")


def test_an_empty_range_is_an_empty_file(stack: Stack) -> None:
    """Nothing in range: ready at once with no rows (CSV: only the header)."""
    export = _ready(
        stack,
        _start(stack, format="csv", since="2001-01-01T00:00:00Z", until="2001-01-02T00:00:00Z")[
            "id"
        ],
    )
    assert export["progress"] == {"done": 0, "total": 0}
    assert _download(stack, export).text == ",".join(exports.POST_COLUMNS) + "\r\n"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"kind": "videos"}, "invalid_export_kind", "posts, ledger"),
        ({"format": "xml"}, "invalid_export_format", "jsonl, csv"),
        (
            {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "invalid_export_range",
            "must be before until",
        ),
        ({"since": "2999-01-01T00:00:00Z"}, "invalid_export_range", "never later than now"),
    ],
)
def test_bad_requests_say_what_to_change(
    stack: Stack, body: dict[str, Any], code: str, says: str
) -> None:
    """Unknown kind or format, an empty or future range: 422 naming the valid choices; no
    export is recorded."""
    problem = expect_problem(stack.http.post("/v1/exports", json=body), 422, code)
    assert says in problem["detail"]
    assert stack.http.get("/v1/exports").json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"since": "2026-01-01T00:00:00"},  # no offset: which midnight?
        {"until": "yesterday"},
        {"kind": 3},
        {"columns": ["text"]},
    ],
)
def test_malformed_requests_are_refused(stack: Stack, body: dict[str, Any]) -> None:
    """Naive or unparsable times, wrong types, unknown members: 422, nothing recorded."""
    answer = stack.http.post("/v1/exports", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert stack.http.get("/v1/exports").json()["data"] == []


def test_queued_exports_are_limited_and_not_downloadable(
    make_stack: Callable[..., Stack],
) -> None:
    """With no worker, an export stays queued: its download is 409 `export_not_ready`; past
    `export_max_active` a new one is 409 `too_many_exports`; an idempotent retry of an
    accepted one answers the same export rather than counting against the limit."""
    stack = make_stack(workers=0, export_max_active=2)
    first = stack.http.post("/v1/exports", json={}, headers={"Idempotency-Key": "exp-1"})
    assert first.status_code == 202
    again = stack.http.post("/v1/exports", json={}, headers={"Idempotency-Key": "exp-1"})
    assert again.json()["id"] == first.json()["id"]
    _start(stack, kind="ledger")
    expect_problem(stack.http.post("/v1/exports", json={}), 409, "too_many_exports")
    problem = expect_problem(
        stack.http.get(f"/v1/exports/{first.json()['id']}/download"), 409, "export_not_ready"
    )
    assert "queued" in problem["detail"]


def test_exports_are_private_to_their_tenant_and_need_posts_read(stack: Stack) -> None:
    """Another tenant's export id answers 404; a key without `posts:read` gets 403."""
    export = _ready(stack, _start(stack)["id"])
    other = new_id("ten")
    with stack.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {"id": other, "name": "o", "is_default": False, "created_at": stack.svc.clock.now()},
        )
    _, other_key = issue_key(stack.svc, tenant_id=other, name="other", mode=Mode.TEST)
    _, narrow = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="narrow", mode=Mode.TEST, scopes=("posts:write",)
    )
    for path in (f"/v1/exports/{export['id']}", export["download_url"]):
        seen = httpx.get(stack.api_url + path, headers={"Authorization": f"Bearer {other_key}"})
        expect_problem(seen, 404, "export_not_found")
        denied = httpx.get(stack.api_url + path, headers={"Authorization": f"Bearer {narrow}"})
        expect_problem(denied, 403, "insufficient_scope")
    listed = httpx.get(
        stack.api_url + "/v1/exports", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert listed.json()["data"] == []


def test_an_expired_export_is_gone_and_its_file_deleted(
    make_stack: Callable[..., Stack],
) -> None:
    """Past `export_retention_days` the file is deleted and the download answers 410."""
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(clock=clock, export_retention_days=2)
    export = _ready(stack, _start(stack)["id"])
    key = _row(stack, export["id"])["storage_key"]
    assert stack.svc.storage.exists(key)
    assert datetime.fromisoformat(export["expires_at"]) == datetime.fromisoformat(
        export["completed_at"]
    ) + timedelta(days=2)
    clock.advance(timedelta(days=2).total_seconds())
    expect_problem(stack.http.get(export["download_url"]), 410, "export_expired")
    assert exports.expire(stack.svc, now=clock.now()) == 1
    assert not stack.svc.storage.exists(key)
    shown = stack.http.get(f"/v1/exports/{export['id']}").json()
    assert shown["status"] == "expired" and shown["download_url"] is None
    assert exports.expire(stack.svc, now=clock.now()) == 0


def _row(stack: Stack, export_id: str) -> dict[str, Any]:
    with stack.svc.db.read() as conn:
        row = conn.execute(sa.select(export_table).where(export_table.c.id == export_id))
        return dict(row.mappings().one())


# --- crashes --------------------------------------------------------------------------------


def test_a_worker_killed_mid_export_leaves_no_partial_file(
    make_stack: Callable[..., Stack], spawn_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """A worker SIGKILLed while writing: the export never shows `ready` with a partial
    file; another worker takes it over and the file holds every ledger event exactly
    once, announced by one `data_export.ready`."""
    stack = make_stack(workers=0)
    events = 20_000
    now = stack.svc.clock.now() - timedelta(minutes=1)
    with stack.svc.db.write() as conn:
        conn.execute(
            ledger_events.insert(),
            [
                {
                    "id": new_id("evt"),
                    "tenant_id": stack.tenant_id,
                    "post_id": None,
                    "target_id": None,
                    "account_id": None,
                    "event_type": "bulk",
                    "data": {"n": n},
                    "created_at": now,
                }
                for n in range(events)
            ],
        )
    made = _start(stack, kind="ledger")
    first = spawn_worker(1, CROSSPOST_EXPORT_BATCH_ROWS="20")
    running = _wait(stack, made["id"], lambda e: e["progress"]["done"] > 0)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = stack.http.get(f"/v1/exports/{made['id']}").json()
    assert cut["status"] == "running", f"the kill came too late to test anything: {cut}"
    assert 0 < running["progress"]["done"] <= cut["progress"]["done"] < events
    assert cut["download_url"] is None and _ready_events(stack) == []
    spawn_worker(1, CROSSPOST_EXPORT_BATCH_ROWS="1000")
    export = _ready(stack, made["id"])
    lines = [json.loads(line) for line in _download(stack, export).text.splitlines()]
    # The sandbox's account connections are in the ledger too.
    assert export["status"] == "ready" and export["progress"]["done"] == len(lines)
    assert len({line["id"] for line in lines}) == len(lines)
    bulk = [line["data"]["n"] for line in lines if line["event_type"] == "bulk"]
    assert sorted(bulk) == list(range(events))
    (event,) = _ready_events(stack)
    assert event["data"]["export"]["rows"] == len(lines)


# --- the CLI --------------------------------------------------------------------------------


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")} | {
        "CROSSPOST_API_URL": stack.api_url,
        "CROSSPOST_API_KEY": stack.key,
    }
    return subprocess.run(
        [sys.executable, "-m", "crosspost", "export", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_exports_waits_and_saves_the_file(stack: Stack, tmp_path: Path) -> None:
    """`crosspost export --out f --format csv` prints the export id and saves exactly the
    file the API serves; a bad kind exits 1 with the API's reason, and saves nothing."""
    post_id = _post(stack, "from the cli")
    out = tmp_path / "posts.csv"
    done = _cli(stack, "--out", str(out), "--format", "csv")
    assert done.returncode == 0, done.stderr
    export = stack.http.get(f"/v1/exports/{done.stdout.strip()}").json()
    assert out.read_bytes() == _download(stack, export).content
    assert post_id in out.read_text()
    # What is counted is named: posts, while the CSV has a row per target.
    assert "(1 post(s), one CSV row per target," in " ".join(done.stderr.split())
    bad = tmp_path / "bad.csv"
    refused = _cli(stack, "--out", str(bad), "--kind", "videos")
    # The terminal may wrap the message: compare it with its blanks collapsed.
    assert refused.returncode == 1 and "posts, ledger" in " ".join(refused.stderr.split())
    assert not bad.exists()


def test_exports_count_in_usage_and_obey_their_quota(make_stack: Callable[..., Stack]) -> None:
    """Each accepted export counts one `exports`; the soft limit warns, the hard limit
    refuses with 402 and records nothing."""
    stack = make_stack(workers=0, export_max_active=10)
    quota = {"metric": "exports", "soft_limit": 1, "hard_limit": 2}
    assert stack.http.put("/v1/usage/quotas", json=quota).status_code == 200
    stack.http.post("/v1/exports", json={})
    warned = stack.http.post("/v1/exports", json={})
    assert warned.status_code == 202 and "exports" in warned.headers["x-usage-warning"]
    refused = expect_problem(stack.http.post("/v1/exports", json={}), 402, "quota_exceeded")
    assert refused["quota"] == "exports" and refused["used"] == 2
    assert len(stack.http.get("/v1/exports").json()["data"]) == 2
    assert stack.http.get("/v1/usage").json()["tenant"]["exports"] == 2
