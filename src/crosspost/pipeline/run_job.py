"""A pipeline run (`POST /v1/pipelines/{id}/runs` → `/v1/jobs/{id}`): the GitHub activity
around a time range backfilled, the channel's clips of the range found (one content item
each, once), and every item of the range not yet ready taken through its steps.

A clip that cannot be processed fails alone, with its reason, and the run goes on; a rerun
over the same range picks up only what is missing (new clips, unfinished or failed items).
A worker killed mid-run leaves its job to another worker, which resumes each item from its
last finished step, so the run ends once, with one item per clip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import ErrorKind
from crosspost.engine import tasks
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput
from crosspost.ids import new_id
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.pipeline import item_steps, pipelines, twitch_owner
from crosspost.pipeline.github_backfill import backfill
from crosspost.pipeline.twitch_api import Clip
from crosspost.providers.chat import ChatClient
from crosspost.providers.errors import ProviderError
from crosspost.providers.judge import HeuristicJudge, Judge
from crosspost.providers.judge_llm import LLMJudge
from crosspost.providers.transcription import OpenAITranscriber
from crosspost.store import content_items as item_rows
from crosspost.store import pipelines as pipeline_rows
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row
from crosspost.usage import ai

KIND = "pipeline.run.v1"
MAX_RANGE = timedelta(days=31)
log = logging.getLogger("crosspost.pipeline")


def start_run(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    pipeline_id: str,
    since: datetime,
    until: datetime,
) -> Row:
    """Queue a run over the clips made in [since, until); the task row is the job to follow."""
    pipeline = pipelines.get(conn, tenant_id, pipeline_id)
    if until <= since:
        raise InvalidInput("until must be after since", code="invalid_range")
    if until - since > MAX_RANGE:
        raise InvalidInput(
            f"a run covers at most {MAX_RANGE.days} days; split the range", code="invalid_range"
        )
    test = pipeline["mode"] == "test"
    twitch_owner.configured_client(svc, test=test)
    if not test and pipeline["twitch_credentials"] is None:
        raise InvalidInput(
            "Twitch gives clip downloads only to the channel's owner or editors: connect the "
            f"channel's Twitch account first (POST /v1/pipelines/{pipeline_id}/twitch/connect)",
            code="twitch_not_connected",
        )
    if svc.settings.transcription(test_mode=test)[1] is None:
        raise InvalidInput(
            "transcription is not configured on this server: set CROSSPOST_TRANSCRIPTION_API_KEY",
            code="transcription_unavailable",
        )
    now = svc.clock.now()
    # A month whose cap is spent refuses the run outright (402 naming the cap) rather than
    # failing every clip one by one.
    ai.check_transcription(conn, tenant_id=tenant_id, key_id=key_id, seconds=0, now=now)
    if pipeline["judge"] == "llm":
        if svc.settings.llm(test_mode=test)[1] is None:
            raise InvalidInput(
                "the pipeline's judge is llm but no LLM is configured on this server: set "
                "CROSSPOST_LLM_API_KEY, or PATCH the pipeline's judge to heuristic",
                code="llm_unavailable",
            )
        ai.check_tokens(conn, tenant_id=tenant_id, key_id=key_id, now=now)
    params = {"since": since.isoformat(), "until": until.isoformat(), "key_id": key_id}
    return tasks.start_task(
        svc,
        conn,
        tenant_id=tenant_id,
        mode=pipeline["mode"],
        kind="pipeline_run",
        job_kind=KIND,
        subject_id=pipeline_id,
        params=params,
        unit="clips",
    )


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Backfill, find the clips, take each unfinished item through its steps, end the task
    with what became of them."""

    def handle(ctx: JobContext) -> Outcome:
        task = tasks.load(svc, ctx)
        if task is None:
            return ctx.done()
        with svc.db.read() as conn:
            pipeline = pipeline_rows.find_pipeline(conn, task["subject_id"])
        if pipeline is None:
            _end(svc, ctx, task, failure=("pipeline_gone", "the pipeline was deleted"))
            return ctx.done()
        since = datetime.fromisoformat(task["params"]["since"])
        until = datetime.fromisoformat(task["params"]["until"])
        try:
            with ExitStack() as stack:
                result = _run(svc, ctx, task, pipeline, since, until, stack)
        except LeaseLost:
            raise
        except ProviderError as exc:
            if exc.retryable and ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with the job's backoff
            _end(svc, ctx, task, failure=(exc.code, exc.message))
            return ctx.done()
        _end(svc, ctx, task, result=result)
        return ctx.done()

    return handle


def _run(
    svc: Services,
    ctx: JobContext,
    task: Row,
    pipeline: Row,
    since: datetime,
    until: datetime,
    stack: ExitStack,
) -> dict[str, Any]:
    window = timedelta(minutes=pipeline["match_window_minutes"])
    events = backfill(svc, pipeline, since - window, until + window)
    with svc.db.read() as conn:
        pipeline = pipeline_rows.find_pipeline(conn, pipeline["id"]) or pipeline
    sources = _sources(svc, pipeline, stack)
    if sources is None:
        raise ProviderError(
            ErrorKind.PERMANENT,
            "twitch_channel_not_found",
            f"Twitch has no channel {pipeline['twitch_login']}; fix the pipeline's twitch_login",
        )
    found = new = 0
    for clip in sources.twitch.clips(sources.broadcaster_id, since, until):
        found += 1
        new += _add_item(svc, pipeline, clip)
    with svc.db.read() as conn:
        items = item_rows.to_process(conn, pipeline["id"], since, until)
    failed = []
    tasks.report(svc, ctx, task["id"], 0, len(items))
    for done, item in enumerate(items, start=1):
        ended = item_steps.process(svc, ctx, pipeline, item, sources, task["params"]["key_id"])
        if ended["processing_status"] == "failed":
            failed.append(
                {
                    "content_item_id": ended["id"],
                    "clip_id": ended["clip_id"],
                    **(ended["error"] or {}),
                }
            )
        tasks.report(svc, ctx, task["id"], done, len(items))
    with svc.db.read() as conn:
        counts = item_rows.status_counts(conn, pipeline["id"], since, until)
    return {
        "clips_found": found,
        "clips_new": new,
        "github_events_new": events,
        "processed": len(items),
        "statuses": counts,
        "failed": failed,
    }


def _sources(svc: Services, pipeline: Row, stack: ExitStack) -> item_steps.Sources | None:
    """Twitch with this server's app, the channel, the user clips are downloaded as (the
    connected owner; for a test pipeline nobody connected, the sandbox's streamer), and the
    transcriber; None when there is no channel."""
    test = pipeline["mode"] == "test"
    twitch = twitch_owner.twitch_client(svc, test=test)
    if twitch is None:
        raise ProviderError(
            ErrorKind.PERMANENT,
            "twitch_unavailable",
            "Twitch is no longer configured on this server",
        )
    broadcaster = twitch.broadcaster(pipeline["twitch_login"])
    if broadcaster is None:
        return None
    owner = twitch_owner.connected_owner(svc, pipeline, twitch)
    if owner is None and test:
        owner = _sandbox_owner(svc, broadcaster.login)
    base_url, key = svc.settings.transcription(test_mode=test)
    if key is None:
        raise ProviderError(
            ErrorKind.PERMANENT,
            "transcription_unavailable",
            "transcription is no longer configured on this server",
        )
    transcriber = stack.enter_context(
        OpenAITranscriber(
            base_url,
            key,
            svc.settings.transcription_model,
            timeout=svc.settings.transcription_timeout_seconds,
        )
    )
    return item_steps.Sources(
        twitch, broadcaster.id, owner, transcriber, _judge(svc, pipeline, stack)
    )


def _judge(svc: Services, pipeline: Row, stack: ExitStack) -> Judge:
    """The pipeline's judge: the heuristic, or the LLM over the configured chat API."""
    if pipeline["judge"] != "llm":
        return HeuristicJudge()
    base_url, key, model = svc.settings.llm(test_mode=pipeline["mode"] == "test")
    if key is None:
        raise ProviderError(
            ErrorKind.PERMANENT,
            "llm_unavailable",
            "the pipeline's judge is llm but no LLM is configured on this server any more",
        )
    chat = ChatClient(base_url, key, model, timeout=svc.settings.llm_timeout_seconds)
    return LLMJudge(stack.enter_context(chat))


def _sandbox_owner(svc: Services, login: str) -> twitch_owner.Owner:
    """The sandbox channel owner's token (the fake stands in for their consent)."""
    answer = svc.http.post(
        f"{svc.settings.sandbox_base_url}/twitch/_fake/accounts", json={"login": login}
    )
    if answer.status_code != 200:
        raise ProviderError(
            ErrorKind.PERMANENT, "twitch_not_connected", f"the sandbox could not sign in as {login}"
        )
    body = answer.json()
    return twitch_owner.Owner(str(body["user_id"]), str(body["access_token"]))


def _add_item(svc: Services, pipeline: Mapping[str, Any], clip: Clip) -> bool:
    """A pending item for a clip the pipeline does not hold yet; True when new."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        return item_rows.add_item(
            conn,
            {
                "id": new_id("ci"),
                "tenant_id": pipeline["tenant_id"],
                "pipeline_id": pipeline["id"],
                "platform": "twitch",
                "clip_id": clip.id,
                "clip_title": clip.title[:500],
                "clip_url": clip.url,
                "clip_embed_url": clip.embed_url,
                "clip_thumbnail_url": clip.thumbnail_url,
                "clip_duration": clip.duration,
                "clip_view_count": clip.view_count,
                "clip_created_at": clip.created_at,
                "broadcaster_name": clip.broadcaster_name,
                "creator_name": clip.creator_name,
                "processing_status": "pending",
                "review": "pending",
                "stored_at": now,
                "updated_at": now,
            },
        )


def _end(
    svc: Services,
    ctx: JobContext,
    task: Row,
    *,
    result: dict[str, Any] | None = None,
    failure: tuple[str, str] | None = None,
) -> None:
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        task = task_rows.get_any(conn, task["id"]) or task  # with the progress reported
        if failure is not None:
            tasks.fail(conn, task, failure[0], failure[1], now)
        else:
            tasks.succeed(conn, task, result or {}, now)
