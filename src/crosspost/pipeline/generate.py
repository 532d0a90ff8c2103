"""Content generation (`POST /v1/content/generate`, seed 002): a recap made now (`sync`) or
by a worker (`async`, a `/v1/jobs` task), optionally proposed as a pull request, announced
by `content.generated` (and `content.pr_opened`) in the transaction that ends its task.

A generation taken over from a worker that died makes the same post again (it is
deterministic) and finds the branch and pull request the first attempt made: one job, one
pull request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.content import (
    BlogPost,
    GenerateRequest,
    GenerateResponse,
    PullRequestRef,
)
from crosspost.engine import tasks
from crosspost.engine.services import Services
from crosspost.errors import CrosspostError, InvalidInput
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.pipeline import content_items, matching, notify, pipelines, prose, recap, recap_pr
from crosspost.providers.chat import ChatClient
from crosspost.providers.errors import ProviderError
from crosspost.store import content_items as item_rows
from crosspost.store import pipelines as pipeline_rows
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row
from crosspost.usage import ai
from crosspost.webhooks import outbox

KIND = "content.generate.v1"
EXPIRES = timedelta(hours=24)  # seed 002: a job's answer is kept a day
DEFAULT_WINDOW = timedelta(minutes=120)
ITEM_EVENTS = 3  # GitHub events shown under each clip
log = logging.getLogger("crosspost.pipeline")


def start(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    mode: str,
    request: GenerateRequest,
) -> Row:
    """Record the generation's task (queued for a worker when `async`); the task row."""
    if request.pipeline_id is not None:
        pipeline = pipelines.get(conn, tenant_id, request.pipeline_id)
        if request.open_pull_request and not pipeline["recap"]:
            raise InvalidInput(
                f"pipeline {pipeline['id']} has no recap target: PATCH it with "
                '{"recap": {"repository": "owner/name"}} first',
                code="recap_not_configured",
            )
    if request.writer == "llm":
        if svc.settings.llm(test_mode=mode == "test")[1] is None:
            raise InvalidInput(
                "writer llm needs an LLM: set CROSSPOST_LLM_API_KEY on the server, or ask "
                "for writer template",
                code="llm_unavailable",
            )
        ai.check_tokens(conn, tenant_id=tenant_id, key_id=key_id, now=svc.clock.now())
    params = {"request": request.model_dump(mode="json"), "key_id": key_id, "mode": mode}
    return tasks.start_task(
        svc,
        conn,
        tenant_id=tenant_id,
        mode=mode,
        kind="content_generation",
        job_kind=KIND,
        subject_id=request.pipeline_id or tenant_id,
        params=params,
        unit="steps",
        total=2,
        enqueue=request.mode == "async",
    )


@dataclass(frozen=True)
class Made:
    """What a generation made: the recap, its pull request, the pipeline it came from, and
    the LLM tokens its prose cost."""

    recap: recap.Recap
    pull: PullRequestRef | None
    pipeline: Row | None
    tokens: int = 0


def generate(svc: Services, tenant_id: str, mode: str, request: GenerateRequest) -> Made:
    """Make the recap (its opening written by the LLM when asked) and propose it when
    asked."""
    start_at, end_at = request.date_range.start, request.date_range.end
    with svc.db.read() as conn:
        pipeline = (
            pipelines.get(conn, tenant_id, request.pipeline_id) if request.pipeline_id else None
        )
        items = recap.select_items(conn, tenant_id, request)
        ids = [pipeline["id"]] if pipeline else pipeline_rows.pipeline_ids(conn, tenant_id)
        window = timedelta(minutes=pipeline["match_window_minutes"]) if pipeline else DEFAULT_WINDOW
        events = pipeline_rows.events_between(
            conn, ids, start_at, end_at, repository=request.repository
        )
        around = pipeline_rows.events_between(
            conn, ids, start_at - window, end_at + window, repository=request.repository
        )
        template = item_rows.get_template(
            conn, tenant_id, request.content_type
        ) or recap.builtin_template(request.content_type)
    pattern = (pipeline["recap"] or {}).get("path") if pipeline else None
    spent = [0]
    with ExitStack() as stack:
        made = recap.build(
            request,
            items,
            events,
            _contexts(items, around, window),
            template=template,
            path_pattern=pattern or "content/recaps/{date}.md",
            intro=_writer(svc, mode, stack, spent) if request.writer == "llm" else None,
        )
    pull = None
    if request.open_pull_request and pipeline is not None:
        pull = recap_pr.propose(
            svc,
            pipeline,
            path=made.path,
            content=made.markdown.encode(),
            title=made.title,
            description=_description(made),
        )
    return Made(made, pull, pipeline, spent[0])


def _writer(svc: Services, mode: str, stack: ExitStack, spent: list[int]) -> recap.IntroWriter:
    """The LLM's intro writer, adding what each call spends to `spent`."""
    base_url, key, model = svc.settings.llm(test_mode=mode == "test")
    if key is None:
        raise InvalidInput(
            "writer llm needs an LLM, and none is configured on this server any more",
            code="llm_unavailable",
        )
    client = stack.enter_context(
        ChatClient(base_url, key, model, timeout=svc.settings.llm_timeout_seconds)
    )

    def write(title: str, summary: dict[str, int], shown: list[dict[str, Any]]) -> str:
        text, tokens = prose.write_intro(client, title, summary, shown)
        spent[0] += tokens
        return text

    return write


def finish(
    svc: Services, conn: Connection, task: Row, request: GenerateRequest, done: Made, now: datetime
) -> GenerateResponse:
    """End the task with the answer, count its LLM tokens and announce it, in the caller's
    transaction."""
    made, pull, pipeline = done.recap, done.pull, done.pipeline
    if done.tokens:
        ai.meter_tokens(
            conn,
            tenant_id=task["tenant_id"],
            key_id=task["params"].get("key_id", ""),
            tokens=done.tokens,
            now=now,
        )
    answer = response(svc, task, request, made, pull, status="completed")
    result = answer.model_dump(mode="json", exclude={"content_items"})
    tasks.succeed(conn, {**task, "progress_total": 2}, result, now)
    notify.queue_discord(svc, conn, task["id"], pipeline)
    mode = task["params"]["mode"]
    dates = {
        "start": request.date_range.start.isoformat(),
        "end": request.date_range.end.isoformat(),
    }
    outbox.emit(
        conn,
        tenant_id=task["tenant_id"],
        mode=mode,
        event_type="content.generated",
        data={
            "job_id": task["id"],
            "content_type": request.content_type,
            "title": made.title,
            "path": made.path,
            "total_clips": made.summary.total_clips,
            "date_range": dates,
        },
        now=now,
    )
    if pull is not None and pipeline is not None:
        outbox.emit(
            conn,
            tenant_id=task["tenant_id"],
            mode=mode,
            event_type="content.pr_opened",
            data={
                "job_id": task["id"],
                "repository": pipeline["recap"]["repository"],
                "pull_request": pull.model_dump(),
            },
            now=now,
        )
    return answer


def response(
    svc: Services,
    task: Mapping[str, Any],
    request: GenerateRequest,
    made: recap.Recap | None,
    pull: PullRequestRef | None,
    *,
    status: str,
    error: Mapping[str, Any] | None = None,
) -> GenerateResponse:
    """Seed 002's answer for a task (the recap's parts once it is made)."""
    base: dict[str, Any] = {
        "job_id": task["id"],
        "job_status": status,
        "status_url": tasks.status_url(svc, task["id"]),
        "expires_at": task["created_at"] + EXPIRES,
        "content_type": request.content_type,
        "date_range": request.date_range,
        "error": dict(error) if error else None,
    }
    if made is None:
        return GenerateResponse(**base)
    return GenerateResponse(
        **base,
        content_items=[content_items.public(svc, row) for row in made.page],
        pagination=made.pagination,
        summary=made.summary,
        suggested_title=made.title,
        suggested_tags=made.categories or ["other"],
        content_score=made.score,
        post=BlogPost(
            title=made.title, path=made.path, markdown=made.markdown, front_matter=made.front_matter
        ),
        pull_request=pull,
    )


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Generate (and propose) an async request's recap; end its task with the answer."""

    def handle(ctx: JobContext) -> Outcome:
        task = tasks.load(svc, ctx)
        if task is None:
            return ctx.done()
        request = GenerateRequest.model_validate(task["params"]["request"])
        tasks.report(svc, ctx, task["id"], 0, 2)
        try:
            done = generate(svc, task["tenant_id"], task["params"]["mode"], request)
        except LeaseLost:
            raise
        except ProviderError as exc:
            if exc.retryable and ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise
            _fail(svc, ctx, task, exc.code, exc.message)
            return ctx.done()
        except CrosspostError as exc:  # the pipeline went, a template failed
            _fail(svc, ctx, task, exc.code, exc.detail)
            return ctx.done()
        now = svc.clock.now()
        with svc.db.write() as conn:
            ctx.fence(conn)
            current = task_rows.get_any(conn, task["id"]) or task
            finish(svc, conn, current, request, done, now)
        return ctx.done()

    return handle


def _fail(svc: Services, ctx: JobContext, task: Row, code: str, message: str) -> None:
    with svc.db.write() as conn:
        ctx.fence(conn)
        tasks.fail(conn, task, code, message, svc.clock.now())


def _contexts(
    items: Sequence[Row], events: Sequence[Row], window: timedelta
) -> dict[str, list[Mapping[str, Any]]]:
    """Each item's best few events (matched again here, from the events already read)."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        matches = matching.match_clip(
            clip_start=item["clip_created_at"],
            clip_seconds=item["clip_duration"],
            transcript=item["transcript_summary"] or "",
            events=events,
            window=window,
        )
        found[item["id"]] = [m.event for m in matches[:ITEM_EVENTS]]
    return found


def _description(made: recap.Recap) -> str:
    s = made.summary
    return (
        f"{made.title}\n\nMade by crosspost from {s.total_clips} clips, {s.total_commits} "
        f"commits, {s.total_prs} pull requests and {s.total_issues} issues."
    )
