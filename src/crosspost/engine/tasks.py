"""Long-running requests as one resource (`/v1/jobs`): a task row and its queue job are made
in one transaction; the handler reports progress and ends the task with its result or the
reason it failed, each in a fenced write, so a worker that dies leaves the task to the one
that takes its job over.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.engine.services import Services
from crosspost.ids import new_id
from crosspost.jobs import JobContext
from crosspost.store import tasks as store
from crosspost.store.rows import Row
from crosspost.webhooks import outbox


def start_task(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    mode: str,
    kind: str,
    job_kind: str,
    subject_id: str,
    params: Mapping[str, Any],
    unit: str,
    total: float | None = None,
    enqueue: bool = True,
) -> Row:
    """Record a queued task and enqueue the job that runs it, in the caller's transaction
    (without `enqueue`, the caller runs it and ends it itself)."""
    now = svc.clock.now()
    row: Row = {
        "id": new_id("job"),
        "tenant_id": tenant_id,
        "mode": mode,
        "kind": kind,
        "subject_id": subject_id,
        "status": "queued",
        "params": dict(params),
        "progress_done": 0.0,
        "progress_total": total,
        "progress_unit": unit,
        "result": None,
        "error_code": None,
        "error_message": None,
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
    }
    store.insert_task(conn, row)
    if enqueue:
        svc.jobs.enqueue(conn, job_kind, {"task_id": row["id"]}, run_at=now)
    return row


def load(svc: Services, ctx: JobContext) -> Row | None:
    """The task a job runs, None when it is gone or has ended (an earlier run finished it)."""
    with svc.db.read() as conn:
        row = store.get_any(conn, ctx.job.payload["task_id"])
    return row if row is not None and row["status"] in store.ACTIVE else None


def report(svc: Services, ctx: JobContext, task_id: str, done: float, total: float | None) -> None:
    """Record how far the task got (and that it runs), fenced."""
    with svc.db.write() as conn:
        ctx.fence(conn)
        store.update_task(
            conn,
            task_id,
            {
                "status": "running",
                "progress_done": done,
                "progress_total": total,
                "updated_at": svc.clock.now(),
            },
        )


def succeed(conn: Connection, task: Row, result: Mapping[str, Any], now: datetime) -> None:
    """End the task with its result and announce `job.completed`, in the caller's (fenced)
    transaction."""
    total = task["progress_total"]
    store.update_task(
        conn,
        task["id"],
        {
            "status": "succeeded",
            "result": dict(result),
            "updated_at": now,
            "finished_at": now,
            "progress_done": total if total is not None else task["progress_done"],
        },
    )
    _announce(conn, task, "job.completed", now)


def fail(conn: Connection, task: Row, code: str, message: str, now: datetime) -> None:
    """End the task with why it failed and announce `job.failed`, in the caller's (fenced)
    transaction."""
    store.update_task(
        conn,
        task["id"],
        {
            "status": "failed",
            "error_code": code[:40],
            "error_message": message,
            "updated_at": now,
            "finished_at": now,
        },
    )
    _announce(conn, task, "job.failed", now, error={"code": code[:40], "message": message})


def _announce(
    conn: Connection,
    task: Row,
    event_type: str,
    now: datetime,
    *,
    error: Mapping[str, str] | None = None,
) -> None:
    # Lean on purpose: a result can be large (a recap's Markdown); GET /v1/jobs/{id} has it.
    data: dict[str, Any] = {
        "job_id": task["id"],
        "kind": task["kind"],
        "subject_id": task["subject_id"],
        "finished_at": now.isoformat(),
    }
    if error is not None:
        data["error"] = dict(error)
    outbox.emit(
        conn,
        tenant_id=task["tenant_id"],
        mode=task["mode"],
        event_type=event_type,
        data=data,
        now=now,
    )


def status_url(svc: Services, task_id: str) -> str:
    """Where a job is followed."""
    return f"{svc.settings.base_url}/v1/jobs/{task_id}"


def public(svc: Services, row: Mapping[str, Any]) -> dict[str, Any]:
    """A task as `/v1/jobs` shows it."""
    code = row["error_code"]
    finished = row["finished_at"]
    retention = timedelta(hours=svc.settings.job_retention_hours)
    return {
        "id": row["id"],
        "kind": row["kind"],
        "mode": row["mode"],
        "subject_id": row["subject_id"],
        "status": row["status"],
        "params": row["params"],
        "progress": {
            "done": row["progress_done"],
            "total": row["progress_total"],
            "unit": row["progress_unit"],
        },
        "result": row["result"],
        "error": {"code": code, "message": row["error_message"] or ""} if code else None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "finished_at": finished,
        "expires_at": finished + retention if finished is not None else None,
        "status_url": status_url(svc, row["id"]),
    }
