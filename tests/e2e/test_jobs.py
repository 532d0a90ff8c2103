"""`/v1/jobs` over real HTTP on SQLite and PostgreSQL: every job shows where to follow it
and when it will be deleted, the tenant's jobs are counted by status, kind and age, and
finished jobs past their retention are deleted by the cleanup (on request, with `admin`,
and by the hourly maintenance), never one still running."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from crosspost.clock import FrozenClock
from crosspost.engine import tasks
from crosspost.store import tasks as task_rows
from tests.e2e.conftest import Stack, expect_problem


def _generate(stack: Stack) -> dict[str, Any]:
    """A sync recap of an empty day: a job that ends at once."""
    answer = stack.http.post(
        "/v1/content/generate",
        json={
            "date_range": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
            "content_type": "daily_recap",
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_jobs_are_counted_cleaned_and_show_when_they_expire(
    make_stack: Callable[..., Stack],
) -> None:
    """Two finished generations and one queued job: stats count them; the finished ones
    expire 24 h after they ended and only then does the cleanup delete them."""
    clock = FrozenClock(datetime.fromisoformat("2026-12-07T10:00:00+00:00"))
    stack = make_stack(workers=0, clock=clock)
    done = [_generate(stack) for _ in range(2)]
    with stack.svc.db.write() as conn:
        queued = tasks.start_task(
            stack.svc,
            conn,
            tenant_id=stack.tenant_id,
            mode="test",
            kind="pipeline_run",
            job_kind="pipeline.run.v1",
            subject_id="pln_x",
            params={},
            unit="clips",
        )
    job = stack.http.get(f"/v1/jobs/{done[0]['job_id']}").json()
    assert job["status"] == "succeeded" and job["kind"] == "content_generation"
    assert job["status_url"] == f"{stack.api_url}/v1/jobs/{job['id']}" == done[0]["status_url"]
    ended = datetime.fromisoformat(job["finished_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(job["expires_at"].replace("Z", "+00:00")) == ended + timedelta(
        hours=24
    )
    assert stack.http.get(f"/v1/jobs/{queued['id']}").json()["expires_at"] is None
    clock.advance(120)
    stats = stack.http.get("/v1/jobs/stats").json()
    assert stats["by_status"] == {"queued": 1, "running": 0, "succeeded": 2, "failed": 0}
    assert stats["by_kind"] == {
        "content_generation": {"succeeded": 2},
        "pipeline_run": {"queued": 1},
    }
    assert stats["active_by_age"] == {"under_1m": 0, "1m_to_1h": 1, "over_1h": 0}
    assert stats["oldest_active_seconds"] == 120
    listed = stack.http.get("/v1/jobs", params={"kind": "content_generation"}).json()["data"]
    assert {j["id"] for j in listed} == {d["job_id"] for d in done}
    assert stack.http.post("/v1/jobs/cleanup").json()["removed"] == 0  # not 24 h yet
    clock.advance(24 * 3600)
    assert stack.http.post("/v1/jobs/cleanup").json()["removed"] == 2
    expect_problem(stack.http.get(f"/v1/jobs/{done[0]['job_id']}"), 404, "job_not_found")
    assert stack.http.get(f"/v1/jobs/{queued['id']}").json()["status"] == "queued"
    expect_problem(stack.http.get("/v1/jobs", params={"kind": "nap"}), 422)


def test_the_hourly_maintenance_deletes_expired_jobs_of_every_tenant(
    make_stack: Callable[..., Stack],
) -> None:
    """The maintenance's purge takes finished jobs past retention, whoever's."""
    clock = FrozenClock(datetime.fromisoformat("2026-12-07T10:00:00+00:00"))
    stack = make_stack(workers=0, clock=clock)
    made = _generate(stack)
    clock.advance(25 * 3600)
    with stack.svc.db.write() as conn:
        removed = task_rows.purge_ended(conn, before=clock.now() - timedelta(hours=24))
    assert removed == 1
    expect_problem(stack.http.get(f"/v1/jobs/{made['job_id']}"), 404)
