"""One content item through seed 002's processing: `queued` → the clip's video stored as a
media item and its audio extracted (`audio_ready`) → transcribed → matched with the GitHub
activity around it (`enhanced`) → judged (`ready_for_content`), or `failed` with the reason.

Each step writes its outcome (and the status it reached) in one fenced transaction, and
every object it stores has a key fixed by the item, so a worker killed mid-step leaves the
item where the last finished step put it and the run that takes over redoes only the rest,
overwriting any half-written object rather than leaving a second one.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from crosspost.domain.transcripts import Transcript
from crosspost.engine.media_intake import meter_media, probed_values
from crosspost.engine.services import Services
from crosspost.errors import CrosspostError
from crosspost.ids import new_id
from crosspost.jobs import JobContext
from crosspost.media.audio_extract import extract_speech
from crosspost.media.storage import store_file
from crosspost.pipeline import matching
from crosspost.pipeline.twitch_api import TwitchClient
from crosspost.providers.errors import ProviderError
from crosspost.providers.judge import HeuristicJudge, JudgeInput
from crosspost.providers.transcription import Transcriber
from crosspost.store import content_items as item_rows
from crosspost.store import media as media_rows
from crosspost.store import pipelines as pipeline_rows
from crosspost.store.rows import Row

SUMMARY_CHARS = 280
_ORDER = ("queued", "audio_ready", "transcribed", "enhanced", "ready_for_content")


@dataclass
class Sources:
    """What a run reaches the outside with: Twitch (and the owner's token for downloads,
    None when the channel's owner never connected), the transcriber."""

    twitch: TwitchClient
    broadcaster_id: str
    owner_token: str | None
    owner_id: str | None
    transcriber: Transcriber


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
        "audio_ready": lambda: _transcribe(svc, ctx, item, sources.transcriber),
        "transcribed": lambda: _enhance(svc, ctx, pipeline, item),
        "enhanced": lambda: _judge(svc, ctx, item),
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
    if sources.owner_token is None or sources.owner_id is None:
        raise StepFailed(
            "Twitch gives clip downloads only to the channel's owner or editors: connect the "
            "channel's Twitch account to the pipeline, then run it again",
            code="twitch_not_connected",
        )
    urls = sources.twitch.download_urls(
        sources.owner_token,
        editor_id=sources.owner_id,
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
    with tempfile.TemporaryDirectory(dir=_scratch(svc)) as folder:
        video = Path(folder) / "clip.mp4"
        sources.twitch.fetch(url, video, max_bytes=svc.settings.max_upload_bytes)
        try:
            pieces = extract_speech(video, Path(folder))
        except CrosspostError as exc:  # no audio track, or undecodable
            raise StepFailed(exc.detail, code=exc.code) from exc
        media_id = item["media_id"] or new_id("med")
        stored = store_file(svc.storage, video, _key(item, "clip.mp4"))
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
        audio = store_file(svc.storage, pieces[0].path, _key(item, "audio.ogg"))
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


def _transcribe(svc: Services, ctx: JobContext, item: Row, transcriber: Transcriber) -> None:
    """What was said, kept whole in storage and as a short summary on the item."""
    with svc.storage.local_file(item["audio_key"]) as audio:
        try:
            heard = transcriber.transcribe(audio)
        except CrosspostError as exc:
            raise StepFailed(exc.detail, code=exc.code) from exc
    stored = _store_json(svc, _key(item, "transcript.json"), heard.to_json())
    text = heard.text
    summary = text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"
    _write(
        svc,
        ctx,
        item["id"],
        {
            "transcript_key": stored[0],
            "transcript_size_bytes": stored[1],
            "transcript_summary": summary,
            "processing_status": "transcribed",
        },
    )


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
    stored = _store_json(svc, _key(item, "github-context.json"), matching.context(found))
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


def _judge(svc: Services, ctx: JobContext, item: Row) -> None:
    """The judge's verdict: score, category, tags."""
    context = _read_json(svc, item["github_context_key"])
    verdict = HeuristicJudge().judge(
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
    _write(
        svc,
        ctx,
        item["id"],
        {
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
        },
    )


# -- helpers --------------------------------------------------------------------------------


def _key(item: Mapping[str, Any], name: str) -> str:
    """An item's object keys are fixed: a retried step overwrites what it left."""
    return f"pipeline/{item['tenant_id']}/{item['id']}/{name}"


def _scratch(svc: Services) -> Path:
    folder = svc.settings.resolved_media_dir / ".pipeline"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _store_json(svc: Services, key: str, document: Any) -> tuple[str, int]:
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    with tempfile.NamedTemporaryFile(dir=_scratch(svc), suffix=".json") as fh:
        fh.write(data)
        fh.flush()
        stored = store_file(svc.storage, Path(fh.name), key)
    return stored.key, stored.size


def _read_json(svc: Services, key: str) -> Any:
    with svc.storage.open(key) as fh:
        return json.loads(fh.read())


def _transcript_text(svc: Services, item: Mapping[str, Any]) -> str:
    if not item["transcript_key"]:
        return ""
    return Transcript.from_json(_read_json(svc, item["transcript_key"])).text


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
