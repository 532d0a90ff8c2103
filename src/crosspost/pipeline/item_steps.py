"""One content item through seed 002's processing: `queued` → the clip's video stored as a
media item and its audio extracted (`audio_ready`) → transcribed → matched with the GitHub
activity around it (`enhanced`) → judged (`ready_for_content`), or `failed` with the reason.

Each step writes its outcome (and the status it reached) in one fenced transaction, and
every object it stores has a key fixed by the item, so a worker killed mid-step leaves the
item where the last finished step put it and the run that takes over redoes only the rest,
overwriting any half-written object rather than leaving a second one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from crosspost.domain.transcripts import Transcript
from crosspost.engine.media_intake import meter_media, probed_values
from crosspost.engine.services import Services
from crosspost.errors import CrosspostError, QuotaExceeded
from crosspost.ids import new_id
from crosspost.jobs import JobContext
from crosspost.media.audio_extract import extract_speech
from crosspost.media.storage import store_file
from crosspost.pipeline import content_items, matching
from crosspost.pipeline.twitch_api import TwitchClient
from crosspost.pipeline.twitch_owner import Owner
from crosspost.providers.errors import ProviderError
from crosspost.providers.judge import Judge, JudgeInput
from crosspost.providers.transcription import Transcriber
from crosspost.store import content_items as item_rows
from crosspost.store import media as media_rows
from crosspost.store import pipelines as pipeline_rows
from crosspost.store.rows import Row
from crosspost.usage import ai

_ORDER = ("queued", "audio_ready", "transcribed", "enhanced", "ready_for_content")


@dataclass
class Sources:
    """What a run reaches the outside with: Twitch (and the user clips are downloaded as,
    None when nobody connected the channel), the transcriber, the judge."""

    twitch: TwitchClient
    broadcaster_id: str
    owner: Owner | None
    transcriber: Transcriber
    judge: Judge


class StepFailed(CrosspostError):
    """A step that cannot succeed for this item; it is failed with this code and reason."""


def resume_point(item: Mapping[str, Any]) -> str:
    """The status an item's next step starts from (a failed item resumes after the last
    step whose result it kept)."""
    status = str(item["processing_status"])
    if status != "failed":
        return "queued" if status == "pending" else status
    if item["github_context_key"]:
        return "enhanced"
    if item["transcript_key"]:
        return "transcribed"
    if item["audio_key"]:
        return "audio_ready"
    return "queued"


def process(
    svc: Services, ctx: JobContext, pipeline: Row, item: Row, sources: Sources, key_id: str
) -> Row:
    """Take an item through its remaining steps; the item as it ended. A step that cannot
    succeed fails the item (with the reason) and ends here; a ProviderError worth retrying
    is raised for the job to retry."""
    at = resume_point(item)
    _write(svc, ctx, item["id"], {"processing_status": at, "error": None})
    steps = {
        "queued": lambda: _fetch(svc, ctx, item, sources, key_id),
        "audio_ready": lambda: _transcribe(svc, ctx, item, sources.transcriber, key_id),
        "transcribed": lambda: _enhance(svc, ctx, pipeline, item),
        "enhanced": lambda: _judge(svc, ctx, pipeline, item, sources.judge, key_id),
    }
    try:
        for status in _ORDER[_ORDER.index(at) :]:
            if status in steps:
                steps[status]()
                item = _reload(svc, item["id"])
    except ProviderError as exc:
        if exc.retryable and ctx.job.errors + 1 < svc.settings.job_max_errors:
            raise
        _fail(svc, ctx, item["id"], exc.code, exc.message)
    except StepFailed as exc:
        _fail(svc, ctx, item["id"], exc.code, exc.detail)
    return _reload(svc, item["id"])


# -- the steps -----------------------------------------------------------------------------


def _fetch(svc: Services, ctx: JobContext, item: Row, sources: Sources, key_id: str) -> None:
    """The clip's video, stored as a media item of the tenant, and its audio extracted."""
    if sources.owner is None:
        raise StepFailed(
            "Twitch gives clip downloads only to the channel's owner or editors: connect the "
            f"channel's Twitch account (POST /v1/pipelines/{item['pipeline_id']}/twitch/connect), "
            "then run the pipeline again",
            code="twitch_not_connected",
        )
    urls = sources.twitch.download_urls(
        sources.owner.token(),
        editor_id=sources.owner.user_id,
        broadcaster_id=sources.broadcaster_id,
        clip_ids=[item["clip_id"]],
    )
    url = urls.get(item["clip_id"])
    if not url:
        raise StepFailed(
            f"Twitch has no download for clip {item['clip_id']} (deleted, or still "
            "processing); run the pipeline again later",
            code="clip_media_unavailable",
        )
    with tempfile.TemporaryDirectory(dir=content_items.scratch(svc)) as folder:
        video = Path(folder) / "clip.mp4"
        sources.twitch.fetch(url, video, max_bytes=svc.settings.max_upload_bytes)
        try:
            pieces = extract_speech(video, Path(folder))
        except CrosspostError as exc:  # no audio track, or undecodable
            raise StepFailed(exc.detail, code=exc.code) from exc
        media_id = item["media_id"] or new_id("med")
        stored = store_file(svc.storage, video, content_items.object_key(item, "clip.mp4"))
        try:
            values = probed_values(
                video,
                stored,
                media_id=media_id,
                filename=f"twitch-clip-{item['clip_id']}.mp4",
                content_type="video/mp4",
            )
        except CrosspostError as exc:
            raise StepFailed(exc.detail, code=exc.code) from exc
        audio = store_file(svc.storage, pieces[0].path, content_items.object_key(item, "audio.ogg"))
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        if item["media_id"] is None:
            try:
                meter_media(
                    conn, tenant_id=item["tenant_id"], key_id=key_id, values=values, now=now
                )
            except CrosspostError as exc:  # the month's quota: nothing was written
                raise StepFailed(exc.detail, code=exc.code) from exc
            media_rows.insert_media(
                conn, id=media_id, tenant_id=item["tenant_id"], created_at=now, **values
            )
        item_rows.update_item(
            conn,
            item["id"],
            {
                "media_id": media_id,
                "audio_key": audio.key,
                "processing_status": "audio_ready",
                "updated_at": now,
            },
        )


def _transcribe(
    svc: Services, ctx: JobContext, item: Row, transcriber: Transcriber, key_id: str
) -> None:
    """What was said, kept whole in storage and as a short summary on the item, its minutes
    counted against the month's `transcription_minutes`; an imported transcript stands."""
    if item["transcript_origin"] == "imported":
        _write(svc, ctx, item["id"], {"processing_status": "transcribed"})
        return
    seconds = float(item["clip_duration"])
    tenant_id = item["tenant_id"]
    with svc.db.read() as conn:
        try:
            ai.check_transcription(
                conn, tenant_id=tenant_id, key_id=key_id, seconds=seconds, now=svc.clock.now()
            )
        except QuotaExceeded as exc:
            raise StepFailed(exc.detail, code=exc.code) from exc
    with svc.storage.local_file(item["audio_key"]) as audio:
        try:
            heard = transcriber.transcribe(audio)
        except CrosspostError as exc:
            raise StepFailed(exc.detail, code=exc.code) from exc
    key, size = content_items.store_json(
        svc, content_items.object_key(item, "transcript.json"), heard.to_json()
    )
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        ai.meter_transcription(conn, tenant_id=tenant_id, key_id=key_id, seconds=seconds, now=now)
        values: dict[str, Any] = {"processing_status": "transcribed", "updated_at": now}
        current = item_rows.get_any(conn, item["id"])
        # A transcript imported while this one was being made wins: the tenant chose it.
        if current is None or current["transcript_origin"] != "imported":
            values |= {
                "transcript_key": key,
                "transcript_size_bytes": size,
                "transcript_summary": content_items.summary_of(heard.text),
                "transcript_origin": "transcribed",
            }
        item_rows.update_item(conn, item["id"], values)


def _enhance(svc: Services, ctx: JobContext, pipeline: Row, item: Row) -> None:
    """The GitHub activity around the clip, with each event's confidence."""
    window = timedelta(minutes=pipeline["match_window_minutes"])
    start = item["clip_created_at"]
    end = start + timedelta(seconds=item["clip_duration"])
    with svc.db.read() as conn:
        events = pipeline_rows.list_events(
            conn,
            pipeline["id"],
            since=start - window,
            until=end + window,
            kinds=[],
            after=None,
            limit=10_000,
        )
    linked = frozenset(r.lower() for r in pipeline["repositories"])
    found = matching.match_clip(
        clip_start=start,
        clip_seconds=item["clip_duration"],
        transcript=_transcript_text(svc, item),
        events=events,
        window=window,
        linked=linked,
    )
    stored = content_items.store_json(
        svc, content_items.object_key(item, "github-context.json"), matching.context(found)
    )
    now = svc.clock.now()
    _write(
        svc,
        ctx,
        item["id"],
        {
            "github_context_key": stored[0],
            "github_context_size_bytes": stored[1],
            "github_summary": matching.summary(found),
            "match_confidence": found[0].confidence if found else 0.0,
            "processing_status": "enhanced",
            "enhanced_at": now,
        },
    )


def _judge(
    svc: Services, ctx: JobContext, pipeline: Row, item: Row, judge: Judge, key_id: str
) -> None:
    """The judge's verdict: score, category, tags (an LLM's tokens counted against the
    month's `llm_tokens`)."""
    tenant_id = item["tenant_id"]
    if pipeline["judge"] == "llm":
        with svc.db.read() as conn:
            try:
                ai.check_tokens(conn, tenant_id=tenant_id, key_id=key_id, now=svc.clock.now())
            except QuotaExceeded as exc:
                raise StepFailed(exc.detail, code=exc.code) from exc
    context = content_items.read_json(svc, item["github_context_key"])
    verdict = judge.judge(
        JudgeInput(
            title=item["clip_title"],
            transcript=_transcript_text(svc, item),
            duration_seconds=item["clip_duration"],
            view_count=item["clip_view_count"],
            match_confidence=item["match_confidence"] or 0.0,
            github_titles=tuple(e["title"] for e in context["events"]),
        )
    )
    now = svc.clock.now()
    values = {
        "content_score": verdict.score,
        "content_tags": verdict.tags,
        "content_category": verdict.category,
        "judgement": {
            "judge": verdict.judge,
            "coherence": verdict.coherence,
            "correctness": verdict.correctness,
            "dev_signal": verdict.dev_signal,
            "confidence": verdict.confidence,
            "reasons": verdict.reasons,
        },
        "processing_status": "ready_for_content",
        "content_ready_at": now,
        "updated_at": now,
    }
    with svc.db.write() as conn:
        ctx.fence(conn)
        if verdict.tokens:
            ai.meter_tokens(
                conn, tenant_id=tenant_id, key_id=key_id, tokens=verdict.tokens, now=now
            )
        item_rows.update_item(conn, item["id"], values)


# -- helpers --------------------------------------------------------------------------------


def _transcript_text(svc: Services, item: Mapping[str, Any]) -> str:
    if not item["transcript_key"]:
        return ""
    return Transcript.from_json(content_items.read_json(svc, item["transcript_key"])).text


def _reload(svc: Services, item_id: str) -> Row:
    with svc.db.read() as conn:
        row = item_rows.get_any(conn, item_id)
    if row is None:
        raise StepFailed("the content item was deleted during its run", code="item_gone")
    return row


def _write(svc: Services, ctx: JobContext, item_id: str, values: dict[str, Any]) -> None:
    with svc.db.write() as conn:
        ctx.fence(conn)
        item_rows.update_item(conn, item_id, {**values, "updated_at": svc.clock.now()})


def _fail(svc: Services, ctx: JobContext, item_id: str, code: str, message: str) -> None:
    now = svc.clock.now()
    error = {"code": code[:40], "message": message, "occurred_at": now.isoformat()}
    _write(svc, ctx, item_id, {"processing_status": "failed", "error": error})
