"""Highlight detection as a job (`POST /v1/projects/{id}/highlights` → `/v1/jobs/{id}`):
each source is scanned once, progress reported in seconds of source, and the clips found are
written with the task's result in one fenced transaction, so a worker that dies mid-scan
leaves nothing half-written and the run that takes over writes them once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.studio import HighlightsRequest
from crosspost.engine import tasks
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.store import studio
from crosspost.store.rows import Row
from crosspost.studio.clips import new_clip
from crosspost.studio.highlights import Candidate, HighlightError, detect_highlights
from crosspost.studio.projects import get_project, get_source, transcript_of
from crosspost.usage.processing import check_processing, meter_processing

KIND = "studio.highlights.v1"
log = logging.getLogger("crosspost.studio")
_REPORT_EVERY = 1.0  # seconds of wall time between progress writes


def start_highlights(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    mode: str,
    project_id: str,
    body: HighlightsRequest,
) -> Row:
    """Queue highlight detection over the project's sources (or the one named); the task
    row it returns is the job to follow."""
    project = get_project(conn, tenant_id, project_id, lock=True)
    if body.media_id is not None:
        chosen = [get_source(conn, project, body.media_id)]
    else:
        chosen = studio.sources(conn, [project_id])
    if not chosen:
        raise InvalidInput(
            "the project has no source to scan; add a video first", code="no_sources"
        )
    total = sum(s["duration_seconds"] or 0.0 for s in chosen)
    # Minutes processed are counted when the scan is done; a month without room for them
    # is refused now, before any work.
    check_processing(conn, tenant_id=tenant_id, key_id=key_id, seconds=total, now=svc.clock.now())
    params = {**body.model_dump(), "media_ids": [s["media_id"] for s in chosen], "key_id": key_id}
    return tasks.start_task(
        svc,
        conn,
        tenant_id=tenant_id,
        mode=mode,
        kind="highlights",
        job_kind=KIND,
        subject_id=project_id,
        params=params,
        unit="seconds",
        total=round(total, 3),
    )


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Scan each source, then write the clips and end the task; a source no scan can read
    fails the task with the scan's reason."""

    def handle(ctx: JobContext) -> Outcome:
        task = tasks.load(svc, ctx)
        if task is None:
            return ctx.done()
        try:
            found = _scan(svc, ctx, task)
        except LeaseLost:
            raise
        except (HighlightError, _SourceGone) as exc:
            _end(svc, ctx, task, failure=(exc.code, exc.detail))
            return ctx.done()
        except Exception as exc:
            if ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with backoff
            log.exception("highlight detection %s kept failing", task["id"])
            _end(
                svc,
                ctx,
                task,
                failure=(
                    "highlights_failed",
                    f"the scan kept failing on our "
                    f"side ({type(exc).__name__}); try again, and tell the operator if it persists",
                ),
            )
            return ctx.done()
        _end(svc, ctx, task, found=found)
        return ctx.done()

    return handle


class _SourceGone(InvalidInput):
    """A source was removed from its project (or its media deleted) before its scan."""

    code = "source_gone"


def _scan(svc: Services, ctx: JobContext, task: Row) -> list[tuple[str, Candidate]]:
    params = task["params"]
    done = 0.0
    found: list[tuple[str, Candidate]] = []
    last = 0.0
    for media_id in params["media_ids"]:
        with svc.db.read() as conn:
            project = get_project(conn, task["tenant_id"], task["subject_id"])
            source = studio.get_source(conn, project["id"], media_id)
        if source is None or source["storage_key"] is None:
            raise _SourceGone(
                f"source {media_id!r} left the project during the scan; start the scan again"
            )
        offset = done

        def progress(seconds: float, _total: float, offset: float = offset) -> None:
            nonlocal last
            if time.monotonic() - last >= _REPORT_EVERY:
                last = time.monotonic()
                tasks.report(svc, ctx, task["id"], offset + seconds, task["progress_total"])

        with svc.storage.local_file(source["storage_key"]) as path:
            candidates = detect_highlights(
                path,
                min_seconds=params["min_seconds"],
                max_seconds=params["max_seconds"],
                count=params["count"],
                transcript=transcript_of(source["transcript"]),
                keywords=params["keywords"],
                progress=progress,
            )
        found.extend((media_id, c) for c in candidates)
        done += source["duration_seconds"] or 0.0
    return found


def _end(
    svc: Services,
    ctx: JobContext,
    task: Row,
    *,
    found: list[tuple[str, Candidate]] | None = None,
    failure: tuple[str, str] | None = None,
) -> None:
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        if failure is not None:
            tasks.fail(conn, task, failure[0], failure[1], now)
            return
        project = studio.get_project(conn, task["tenant_id"], task["subject_id"], lock=True)
        if project is None:  # deleted during the scan: nothing to add the clips to
            tasks.fail(conn, task, "project_gone", "the project was deleted during the scan", now)
            return
        rows = [
            new_clip(
                project,
                media_id,
                c.start,
                c.end,
                now,
                origin="detected",
                score=round(c.score, 4),
                reasons=c.reasons,
            )
            for media_id, c in found or []
        ]
        studio.insert_clips(conn, rows)
        result: dict[str, Any] = {"clip_ids": [r["id"] for r in rows], "clips": len(rows)}
        tasks.succeed(conn, task, result, now)
        meter_processing(
            conn,
            tenant_id=task["tenant_id"],
            key_id=task["params"]["key_id"],
            seconds=task["progress_total"] or 0.0,
            now=now,
        )
