"""`/v1/jobs`: every long-running request (highlight detection, transcription, renders,
pipeline runs, content generation) as one resource, with its progress and what came of it;
their counts, and the cleanup of finished ones past their retention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crosspost.api.deps import AdminDep, PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.domain.studio import JobPublic, JobsCleaned, JobStats
from crosspost.engine import tasks
from crosspost.engine.services import Services
from crosspost.errors import NotFound
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
_ERRORS = problem_responses(401, 403, 404, 422)
_KINDS = "^(highlights|transcription|render|pipeline_run|content_generation)$"
# The age buckets of active jobs in `stats`, and where each ends.
_AGES = (
    ("under_1m", timedelta(minutes=1)),
    ("1m_to_1h", timedelta(hours=1)),
    ("over_1h", timedelta.max),
)


def _public(svc: Services, row: Row) -> JobPublic:
    return JobPublic.model_validate(tasks.public(svc, row))


@router.get("", response_model=Page[JobPublic], responses=_ERRORS)
async def list_jobs(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
    kind: Annotated[str | None, Query(pattern=_KINDS)] = None,
    subject_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[JobPublic]:
    """A page of the tenant's jobs, newest first, optionally of one kind or subject."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return task_rows.list_tasks(
                conn,
                principal.tenant_id,
                kind=kind,
                subject_id=subject_id,
                before_id=before,
                limit=limit + 1,
            )

    found = await svc.db.run(read)
    return paginate(found, limit, request, response, lambda row: _public(svc, row))


@router.get("/stats", response_model=JobStats, responses=_ERRORS)
async def job_stats(svc: ServicesDep, principal: PrincipalDep) -> JobStats:
    """The tenant's jobs counted by status and kind, and the active ones by age."""

    def read() -> tuple[list[tuple[str, str, int]], list[datetime]]:
        with svc.db.read() as conn:
            return (
                task_rows.counts(conn, principal.tenant_id),
                task_rows.active_created(conn, principal.tenant_id),
            )

    counts, active = await svc.db.run(read)
    by_status = dict.fromkeys(("queued", "running", "succeeded", "failed"), 0)
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, n in counts:
        by_status[status] = by_status.get(status, 0) + n
        by_kind.setdefault(kind, {})[status] = n
    now = svc.clock.now()
    ages = {name: 0 for name, _ in _AGES}
    for created in active:
        age = now - created
        ages[next(name for name, end in _AGES if age < end)] += 1
    oldest = max(((now - c).total_seconds() for c in active), default=None)
    return JobStats(
        by_status=by_status, by_kind=by_kind, active_by_age=ages, oldest_active_seconds=oldest
    )


@router.post("/cleanup", response_model=JobsCleaned, responses=_ERRORS)
async def cleanup_jobs(svc: ServicesDep, principal: AdminDep) -> JobsCleaned:
    """Delete the tenant's jobs that finished more than `CROSSPOST_JOB_RETENTION_HOURS`
    (24) ago now, rather than at the hourly maintenance (`admin` scope)."""
    before = svc.clock.now() - timedelta(hours=svc.settings.job_retention_hours)

    def work() -> int:
        with svc.db.write() as conn:
            return task_rows.purge_ended(conn, before=before, tenant_id=principal.tenant_id)

    return JobsCleaned(removed=await svc.db.run(work), finished_before=before)


@router.get("/{job_id}", response_model=JobPublic, responses=_ERRORS)
async def get_job(job_id: str, svc: ServicesDep, principal: PrincipalDep) -> JobPublic:
    """A job: its status, progress, and its result or why it failed."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return task_rows.get_task(conn, principal.tenant_id, job_id)

    row = await svc.db.run(read)
    if row is None:
        raise NotFound(f"no job {job_id!r}", code="job_not_found")
    return _public(svc, row)
