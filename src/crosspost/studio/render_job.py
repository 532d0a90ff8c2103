"""The render job (`studio.render.v1`): one render of a clip, from its task to a ready media
item with a poster, or to a failure the customer can act on.

A worker may die at any instruction and another take the job over. Each run renders into a
scratch file of its own under the media directory, then streams it to the output's fixed
media id (a rerun overwrites it) and the poster to `posters/{render id}.jpg`. The media row,
the render's `ready`, the task's end, the minutes metered and `export.ready` are written in
one fenced transaction, which only the run holding the job can commit: one artifact, one
event. A refusal of the renderer (`RenderError`) fails the render at once, with
`export.failed`; any other error is retried until the job's last allowed error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosspost.clock import monotonic
from crosspost.domain.transcripts import Transcript
from crosspost.engine import tasks
from crosspost.engine.media_intake import probed_values
from crosspost.engine.services import Services
from crosspost.errors import PayloadTooLarge
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.store import media
from crosspost.store import renders as store
from crosspost.store.rows import Row
from crosspost.studio import render_files, renders
from crosspost.studio.brand_kits import media_ids, render_brand
from crosspost.studio.projects import transcript_of
from crosspost.studio.render import render_clip
from crosspost.studio.render_files import local_source, store_output
from crosspost.studio.render_spec import BrandKit, CaptionStyle, RenderError, RenderSpec
from crosspost.usage import processing
from crosspost.webhooks import outbox

log = logging.getLogger("crosspost.renders")


@dataclass(frozen=True)
class _Inputs:
    """What a render reads, resolved to storage keys."""

    source_key: str
    transcript: Transcript | None
    kit: Row | None
    kit_keys: dict[str, str]  # media id -> storage key


def make_render_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Render one clip; a `RenderError` fails it with its code, any other error is retried
    and, after the job's last allowed error, fails it with a generic message."""

    def handle(ctx: JobContext) -> Outcome:
        task = tasks.load(svc, ctx)
        if task is None:
            return ctx.done()  # ended by an earlier run
        with svc.db.read() as conn:
            render = store.get_any(conn, task["subject_id"])
        if render is None or render["status"] not in store.ACTIVE:
            return ctx.done()
        try:
            _render(svc, ctx, task, render)
        except LeaseLost:
            raise
        except (RenderError, PayloadTooLarge) as exc:
            _fail(svc, ctx, task, render, exc.code, exc.detail)
        except Exception as exc:
            if ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with backoff
            log.exception("render %s kept failing", render["id"])
            message = (
                f"rendering kept failing on our side ({type(exc).__name__}); ask for the "
                "render again, and tell the operator if it persists"
            )
            _fail(svc, ctx, task, render, "render_failed", message)
        return ctx.done()

    return handle


def _render(svc: Services, ctx: JobContext, task: Row, render: Row) -> None:
    params = task["params"]
    inputs = _inputs(svc, render, params)
    with svc.db.write() as conn:
        ctx.fence(conn)
        store.update_render(
            conn, render["id"], {"status": "rendering", "updated_at": svc.clock.now()}
        )
    tasks.report(svc, ctx, task["id"], 0.0, None)
    scratch = render_files.scratch(svc, render["id"], ctx.job.attempts)
    with ExitStack() as files:
        files.callback(scratch.unlink, missing_ok=True)
        source = files.enter_context(
            local_source(svc, inputs.source_key, "the clip's source video")
        )
        paths = {
            media_id: files.enter_context(local_source(svc, key, "a brand kit's media"))
            for media_id, key in inputs.kit_keys.items()
        }
        spec = _spec(params, inputs, paths)
        result = render_clip(source, scratch, spec, progress=_Reporter(svc, ctx, task["id"]))
        media_id = params["output_media_id"]
        stored = store_output(svc, scratch, media_id)
        poster = renders.poster_key(render["id"])
        with svc.storage.begin_write(poster) as pending:
            pending.write(result.poster_jpeg)
            pending.commit()
        # The scratch file holds the very bytes stored: probing it spares a download from S3.
        values = probed_values(
            scratch,
            stored,
            media_id=media_id,
            filename=f"{render['id']}.mp4",
            content_type="video/mp4",
        )
    _finish(svc, ctx, task, render, {"id": media_id, **values}, result.frames)


def _inputs(svc: Services, render: Row, params: dict[str, Any]) -> _Inputs:
    """The source, transcript and brand kit a render reads; RenderError when one is gone."""
    tenant_id = render["tenant_id"]
    spec = params["spec"]
    with svc.db.read() as conn:
        clip = store.get_clip(conn, tenant_id, params["clip_id"])
        if clip is None:
            raise RenderError("the clip was deleted before it was rendered", code="clip_missing")
        source = media.get_media(conn, tenant_id, clip["media_id"])
        if source is None or source["storage_key"] is None:
            raise RenderError(
                f"the clip's source video {clip['media_id']!r} was deleted before it was "
                "rendered: add it to the project again",
                code="source_missing",
            )
        source_row = store.get_source(conn, clip["project_id"], clip["media_id"])
        stored_transcript = source_row["transcript"] if source_row is not None else None
        transcript = transcript_of(stored_transcript) if spec["captions"] else None
        if spec["captions"] and transcript is None:
            raise RenderError(
                "the source's transcript was removed before the clip was rendered: attach it "
                "again, or ask for captions: false",
                code="no_transcript",
            )
        kit = None
        keys: dict[str, str] = {}
        if spec["brand_kit_id"] is not None:
            kit = store.get_brand_kit(conn, tenant_id, spec["brand_kit_id"])
            if kit is None:
                raise RenderError(
                    f"the brand kit {spec['brand_kit_id']!r} was deleted before the clip was "
                    "rendered: ask for the render with another kit, or none",
                    code="brand_kit_not_found",
                )
            for media_id in media_ids(kit):
                row = media.get_media(conn, tenant_id, media_id)
                if row is None or row["storage_key"] is None:
                    raise RenderError(
                        f"the brand kit's media {media_id!r} is no longer stored: update the "
                        "kit, then ask for the render again",
                        code="brand_media_missing",
                    )
                keys[media_id] = row["storage_key"]
    return _Inputs(source["storage_key"], transcript, kit, keys)


def _spec(params: dict[str, Any], inputs: _Inputs, paths: dict[str, Path]) -> RenderSpec:
    spec = params["spec"]
    brand, style = (
        render_brand(inputs.kit, paths) if inputs.kit is not None else (BrandKit(), CaptionStyle())
    )
    return RenderSpec(
        start=params["start_seconds"],
        end=params["end_seconds"],
        aspect=spec["aspect"],
        reframe=spec["reframe"],
        transcript=inputs.transcript,
        captions=style if spec["captions"] else None,
        brand=brand,
        max_duration=spec["max_duration"],
    )


class _Reporter:
    """The renderer's progress into the task, at most once a `render_progress_seconds`
    (and always the last frame), each report fenced: a run that lost its job stops here."""

    def __init__(self, svc: Services, ctx: JobContext, task_id: str) -> None:
        self._svc = svc
        self._ctx = ctx
        self._task_id = task_id
        self._last: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = monotonic()
        every = self._svc.settings.render_progress_seconds
        if done < total and self._last is not None and now - self._last < every:
            return
        self._last = now
        tasks.report(self._svc, self._ctx, self._task_id, float(done), float(total))


def _finish(
    svc: Services, ctx: JobContext, task: Row, render: Row, output: Row, frames: int
) -> None:
    """The media item, the render ready, the task ended, the minutes counted and
    `export.ready`, in one fenced transaction."""
    params = task["params"]
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        current = store.get_any(conn, render["id"])
        if current is not None and current["status"] in store.ACTIVE:
            media.insert_media(conn, tenant_id=render["tenant_id"], created_at=now, **output)
            ready = {
                "status": "ready",
                "media_id": output["id"],
                "poster_key": renders.poster_key(render["id"]),
                "updated_at": now,
                "completed_at": now,
            }
            store.update_render(conn, render["id"], ready)
            shown = {**current, **ready}
            done = {**task, "progress_done": float(frames), "progress_total": float(frames)}
            result = renders.public(shown, done, output).model_dump(mode="json")
            tasks.succeed(conn, done, result, now)
            processing.meter_processing(
                conn,
                tenant_id=render["tenant_id"],
                key_id=params["key_id"],
                seconds=output["duration_seconds"] or 0.0,
                now=now,
            )
            outbox.emit(
                conn,
                tenant_id=render["tenant_id"],
                mode=params["mode"],
                event_type=renders.READY_EVENT,
                data=renders.event_data(shown, output, None),
                now=now,
            )
    if current is None or current["status"] == "failed":
        # Removed or failed meanwhile: what this run stored belongs to nothing.
        _discard(svc, render["id"], params["output_media_id"])
        return
    log.info("render %s ready: %d frames, %d bytes", render["id"], frames, output["size_bytes"])


def _fail(svc: Services, ctx: JobContext, task: Row, render: Row, code: str, message: str) -> None:
    """The render and its task failed, with `export.failed`, in one fenced transaction; any
    file an earlier run stored goes."""
    params = task["params"]
    now = svc.clock.now()
    values = {
        "status": "failed",
        "error_code": code[:40],
        "error_message": message,
        "updated_at": now,
        "completed_at": now,
    }
    with svc.db.write() as conn:
        ctx.fence(conn)
        if store.update_render(conn, render["id"], values):
            tasks.fail(conn, task, code, message, now)
            outbox.emit(
                conn,
                tenant_id=render["tenant_id"],
                mode=params["mode"],
                event_type=renders.FAILED_EVENT,
                data=renders.event_data({**render, **values}, None, (code, message)),
                now=now,
            )
    _discard(svc, render["id"], params["output_media_id"])
    log.warning("render %s failed (%s): %s", render["id"], code, message)


def _discard(svc: Services, render_id: str, media_id: str) -> None:
    svc.storage.discard_pending(media_id)
    svc.storage.delete(media_id)
    svc.storage.delete(renders.poster_key(render_id))
