"""POST /v1/posts/validate over real HTTP, on SQLite and PostgreSQL: every bad body answers
what POST /v1/posts answers, with every problem listed; a good one answers what each target
would do; and nothing at all is written either way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import issue_key
from crosspost.media.describe import describe
from crosspost.media.samples import make_video
from crosspost.store import accounts
from crosspost.store.tables import (
    idempotency_keys,
    jobs,
    ledger_events,
    posts,
    targets,
    usage_counters,
    webhook_events,
)
from tests.e2e.conftest import Stack

JANUARY = datetime(2026, 1, 1, tzinfo=UTC)
_COUNTED = (posts, targets, jobs, ledger_events, idempotency_keys, webhook_events)


def _written(stack: Stack) -> tuple[Any, ...]:
    """Rows of every table a post touches, and every usage counter but API calls (which the
    analytics flusher adds on its own, for every request)."""
    with stack.svc.db.read() as conn:
        counts = tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in _COUNTED
        )
        usage = conn.execute(
            sa.select(usage_counters.c.key_id, usage_counters.c.metric, usage_counters.c.value)
            .where(usage_counters.c.metric != "api_calls")
            .order_by(usage_counters.c.key_id, usage_counters.c.metric)
        ).all()
    return (*counts, tuple(tuple(row) for row in usage))


@pytest.fixture
def idle(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without workers, its clock at 2026-01-01: posts are only created."""
    return make_stack(workers=0, clock=FrozenClock(JANUARY))


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A one-second vertical video on disk, not uploaded."""
    return make_video(tmp_path / "clip.mp4", seconds=1.0)


def _validate(stack: Stack, body: dict[str, Any], **headers: str) -> Any:
    before = _written(stack)
    response = stack.http.post("/v1/posts/validate", json=body, headers=headers)
    assert _written(stack) == before, "validate wrote something"
    return response


BAD_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown platform": ({"text": "x", "targets": ["youtub"]}, "unsupported_platform"),
    "unknown account": ({"text": "x", "targets": ["acc_nope"]}, "account_not_found"),
    "duplicate target": ({"text": "x", "targets": ["x", "X"]}, "duplicate_target"),
    "past time": (
        {"text": "x", "targets": ["x"], "publish_at": "2025-12-01T18:00:00Z"},
        "publish_at_in_past",
    ),
    "no time zone": (
        {"text": "x", "targets": ["x"], "publish_at": "2026-12-01T18:00:00"},
        "timezone_required",
    ),
    "unknown time zone": (
        {"text": "x", "targets": ["x"], "publish_at": "2026-12-01T18:00:00", "timezone": "Paris"},
        "invalid_timezone",
    ),
    "fold without time": ({"text": "x", "targets": ["x"], "fold": 1}, "fold_not_applicable"),
    "unknown option": (
        {"text": "x", "targets": ["x"], "overrides": {"x": {"colour": "red"}}},
        "unknown_override",
    ),
    "option for another platform": (
        {"text": "x", "targets": ["x"], "overrides": {"linkedin": {"text": "y"}}},
        "override_without_target",
    ),
    "missing media": ({"media_id": "med_nope", "targets": ["x"]}, "media_not_found"),
    "empty post": ({"text": "  ", "targets": ["x"]}, "empty_post"),
    "caption too long everywhere": ({"text": "a" * 3001, "targets": ["x"]}, "caption_too_long"),
    "body shape": ({"text": "x", "targets": []}, "validation_error"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_each_bad_body_answers_the_code_create_answers_and_writes_nothing(
    idle: Stack, case: str
) -> None:
    """Every refusal of create is validate's too, with the same status and code, and
    validate leaves every table (posts, targets, jobs, ledger, usage, idempotency,
    events) as it was, even when sent an Idempotency-Key."""
    body, code = BAD_BODIES[case]
    checked = _validate(idle, body, **{"Idempotency-Key": f"k-{case}"})
    created = idle.http.post("/v1/posts", json=body)
    assert created.status_code == 422, created.text
    assert created.json()["code"] == code, created.json()
    assert checked.status_code == created.status_code, checked.text
    assert checked.headers["content-type"].startswith("application/problem+json")
    assert checked.json()["code"] == code
    assert checked.json()["errors"] == created.json()["errors"]


def test_every_problem_is_listed_not_only_the_first(idle: Stack) -> None:
    """A typo'd platform, a past time and a wrong option in one body: one 422 with the
    first problem's code and all three in `errors`, the same as create answers."""
    body = {
        "text": "x",
        "targets": ["youtub", "tiktok"],
        "publish_at": "2025-12-01T18:00:00Z",
        "overrides": {"tiktok": {"privacy_level": "EVERYONE"}},
    }
    response = _validate(idle, body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "publish_at_in_past"
    fields = {item["field"]: item["type"] for item in problem["errors"]}
    assert fields["publish_at"] == "publish_at_in_past"
    assert fields["targets[0]"] == "unsupported_platform"
    assert any(f.startswith("overrides.tiktok") for f in fields), fields
    assert "youtub" in problem["detail"] and "in the past" in problem["detail"]
    created = idle.http.post("/v1/posts", json=body).json()
    assert created["code"] == problem["code"]
    assert created["errors"] == problem["errors"]


def test_a_valid_body_with_a_described_file_answers_its_targets(idle: Stack, clip: Path) -> None:
    """A file not uploaded yet, described by `crosspost.media.describe`, is checked against
    each platform: 200 with each target's platform, account and the status create would
    give it, and no post, usage or idempotency record appears."""
    described = describe(clip).model_dump(mode="json")
    body = {"media": described, "text": "launch", "targets": ["youtube", "tiktok"]}
    response = _validate(idle, body, **{"Idempotency-Key": "dry-run"})
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["valid"] is True
    assert verdict["publish_at"] is None
    assert [t["platform"] for t in verdict["targets"]] == ["youtube", "tiktok"]
    for target in verdict["targets"]:
        assert target["account_id"].startswith("acc_")
        assert target["status"] == "queued"
        assert target["account_status"] == "active"
        assert target["problems"] == [] and target["warnings"] == []


def test_a_scheduled_body_answers_its_time_in_utc(idle: Stack) -> None:
    """A local time with its zone is read as create reads it: targets `scheduled`."""
    body = {
        "text": "x",
        "targets": ["x"],
        "publish_at": "2026-06-01T18:00:00",
        "timezone": "Europe/Paris",
    }
    verdict = _validate(idle, body).json()
    assert verdict["publish_at"] == "2026-06-01T16:00:00Z"
    assert verdict["targets"][0]["status"] == "scheduled"


def test_a_described_file_gets_the_refusal_its_upload_would_get(
    idle: Stack, tmp_path: Path
) -> None:
    """A file too long for every target: validate answers, before any upload, exactly the
    problem create answers once it is uploaded."""
    long_clip = make_video(tmp_path / "long.mp4", seconds=4.0)
    described = describe(long_clip).model_dump(mode="json")
    described["duration_seconds"] = 7200.0  # as a two-hour file would probe
    body = {"text": "x", "targets": ["tiktok", "instagram"]}
    checked = _validate(idle, {**body, "media": described})
    assert checked.status_code == 422, checked.text
    assert checked.json()["code"] == "media_too_long"
    assert {e["field"] for e in checked.json()["errors"]} == {"targets[0]", "targets[1]"}


def test_a_target_some_platform_refuses_is_failed_not_the_whole_post(
    idle: Stack, clip: Path
) -> None:
    """One destination refusing (a caption too long for X only) fails that target, as
    create would, while the post stays valid for create: 200, valid false, the target
    `failed` with its problem."""
    body = {"media": describe(clip).model_dump(mode="json"), "text": "a" * 300}
    verdict = _validate(idle, {**body, "targets": ["x", "youtube"]}).json()
    assert verdict["valid"] is False
    by_platform = {t["platform"]: t for t in verdict["targets"]}
    assert by_platform["x"]["status"] == "failed"
    assert by_platform["x"]["problems"][0]["type"] == "caption_too_long"
    assert by_platform["x"]["problems"][0]["field"] == "targets[0]"
    assert by_platform["youtube"]["status"] == "queued"


def test_an_account_that_needs_reauth_is_a_warning_naming_the_fix(idle: Stack) -> None:
    """A target whose account needs reconnecting would wait, not fail: 200 with a warning
    that names the command to run."""
    with idle.svc.db.write() as conn:
        account = accounts.find_accounts(conn, idle.tenant_id, mode="test", platform="x")[0]
        accounts.update_account(conn, account["id"], status="needs_reauth")
    verdict = _validate(idle, {"text": "x", "targets": ["x"]}).json()
    target = verdict["targets"][0]
    assert target["account_status"] == "needs_reauth"
    assert target["warnings"][0]["type"] == "account_needs_reauth"
    assert "crosspost accounts connect x" in target["warnings"][0]["message"]


def test_a_full_posts_quota_answers_402_like_create(idle: Stack) -> None:
    """At the posts hard limit, validate answers create's 402, and a dry run never uses the
    quota itself: many validations leave room for the one post allowed."""
    assert idle.http.put("/v1/usage/quotas", json={"metric": "posts", "hard_limit": 1}).is_success
    body = {"text": "x", "targets": ["x"]}
    for _ in range(3):
        assert _validate(idle, body).status_code == 200
    assert idle.http.post("/v1/posts", json=body).status_code == 201
    checked = _validate(idle, body)
    assert checked.status_code == 402, checked.text
    assert checked.json()["code"] == idle.http.post("/v1/posts", json=body).json()["code"]


def test_the_upload_to_come_is_checked_against_the_bytes_quota(idle: Stack, clip: Path) -> None:
    """A described file larger than the bytes_uploaded room left is refused (402) before it
    is uploaded, as its upload would be."""
    body = {"media": describe(clip).model_dump(mode="json"), "text": "x", "targets": ["x"]}
    quota = {"metric": "bytes_uploaded", "hard_limit": 1000}
    assert idle.http.put("/v1/usage/quotas", json=quota).is_success
    checked = _validate(idle, body)
    assert checked.status_code == 402, checked.text
    assert checked.json()["quota"] == "bytes_uploaded"


def test_scopes_are_those_create_and_upload_need(idle: Stack, clip: Path) -> None:
    """A viewer key is refused as create refuses it; a key that may post but not upload is
    refused a described file (its upload would be), not an uploaded one."""
    _, viewer = issue_key(
        idle.svc, tenant_id=idle.tenant_id, name="v", mode=Mode.TEST, role=KeyRole.VIEWER
    )
    _, poster = issue_key(
        idle.svc, tenant_id=idle.tenant_id, name="p", mode=Mode.TEST, scopes=["posts:write"]
    )
    body = {"text": "x", "targets": ["x"]}
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    refused = idle.http.post("/v1/posts/validate", json=body, headers=as_viewer)
    assert refused.status_code == 403
    assert (
        refused.json()["code"]
        == idle.http.post("/v1/posts", json=body, headers=as_viewer).json()["code"]
    )
    as_poster = {"Authorization": f"Bearer {poster}"}
    assert idle.http.post("/v1/posts/validate", json=body, headers=as_poster).status_code == 200
    described = {**body, "media": describe(clip).model_dump(mode="json")}
    no_upload = idle.http.post("/v1/posts/validate", json=described, headers=as_poster)
    assert no_upload.status_code == 403
    assert "media:write" in no_upload.json()["detail"]


def test_media_id_and_a_described_file_are_not_both_taken(idle: Stack, clip: Path) -> None:
    """Naming an uploaded file and describing another is ambiguous: 422 saying to pick one."""
    body = {
        "media_id": "med_x",
        "media": describe(clip).model_dump(mode="json"),
        "targets": ["x"],
    }
    response = _validate(idle, body)
    assert response.status_code == 422
    assert response.json()["code"] == "media_conflict"


def test_create_refuses_a_described_file(idle: Stack, clip: Path) -> None:
    """`media` is validate's alone: create answers the usual 422 for an unknown member."""
    body = {"media": describe(clip).model_dump(mode="json"), "targets": ["x"]}
    response = idle.http.post("/v1/posts", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
