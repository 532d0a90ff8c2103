"""Pacing before the 429: a full TikTok init budget makes the worker wait, not call."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from crosspost.domain.enums import Platform
from crosspost.engine.pacing import reserve
from crosspost.platforms.tiktok import INIT_RATE
from crosspost.store import accounts
from crosspost.store.rows import Row
from crosspost.store.tables import webhook_events
from tests.e2e.conftest import Stack


def _spend_tiktok_inits(stack: Stack) -> tuple[Row, float]:
    """The sandbox TikTok account, with this minute's init budget spent (as other workers
    would); and the time it was spent at."""
    with stack.svc.db.read() as conn:
        account = next(
            a
            for a in accounts.find_accounts(conn, stack.tenant_id, mode="test")
            if a["platform"] == "tiktok"
        )
    now = stack.svc.clock.now().timestamp()
    for _ in range(INIT_RATE.limit):
        assert reserve(stack.svc.db, Platform.TIKTOK, account["id"], [INIT_RATE], now) == 0.0
    return account, now


def test_full_init_budget_defers_the_call_and_explains_why(stack: Stack, tmp_path: Path) -> None:
    """Six inits already spent this minute (by any worker): the seventh is scheduled for when
    the window frees, with a `publish_paced` event, and TikTok never sees the extra call."""
    _account, now = _spend_tiktok_inits(stack)
    media = stack.upload_video(tmp_path, seconds=1.0)
    created = stack.http.post(
        "/v1/posts", json={"media_id": media["id"], "text": "paced", "targets": ["tiktok"]}
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]

    def paced(post: dict) -> bool:
        events = stack.http.get(f"/v1/posts/{post['id']}/ledger").json()
        return any(e["event_type"] == "publish_paced" for e in events)

    stack.wait_post(post_id, paced)
    # Read after the event: the post that `paced` was given was read before the ledger.
    target = stack.http.get(f"/v1/posts/{post_id}").json()["targets"][0]
    assert target["status"] in {"queued", "uploading"}, target
    due = datetime.fromisoformat(target["next_attempt_at"]).timestamp()
    assert 50 <= due - now <= 61, (due, now)
    calls = stack.fake("tiktok", "state")["calls"]
    assert calls.get("creator_info.query") == 1, calls  # the check before init was paid
    assert calls.get("video.init", 0) + calls.get("inbox.video.init", 0) == 0, calls


def test_a_run_out_budget_is_reported_once_as_account_quota_exhausted(
    stack: Stack, tmp_path: Path
) -> None:
    """Two targets wait on the same full budget: one `account.quota_exhausted` event, with
    the budget's standing, and the account view shows it empty."""
    account, _now = _spend_tiktok_inits(stack)
    media = stack.upload_video(tmp_path, seconds=1.0)
    post_ids = []
    for text in ("first", "second"):
        made = stack.http.post(
            "/v1/posts", json={"media_id": media["id"], "text": text, "targets": ["tiktok"]}
        )
        assert made.status_code == 201, made.text
        post_ids.append(made.json()["id"])

    def paced(post: dict) -> bool:
        events = stack.http.get(f"/v1/posts/{post['id']}/ledger").json()
        return any(e["event_type"] == "publish_paced" for e in events)

    for post_id in post_ids:
        stack.wait_post(post_id, paced)
    with stack.svc.db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_events.c.payload).where(
                webhook_events.c.tenant_id == stack.tenant_id,
                webhook_events.c.event_type == "account.quota_exhausted",
            )
        ).all()
    assert len(rows) == 1, rows
    data = json.loads(rows[0][0])["data"]
    assert data["account"]["id"] == account["id"]
    assert (data["budget"]["name"], data["budget"]["remaining"]) == ("init", 0)
    view = stack.http.get(f"/v1/accounts/{account['id']}").json()["budgets"]
    assert next(b for b in view if b["name"] == "init")["remaining"] == 0
