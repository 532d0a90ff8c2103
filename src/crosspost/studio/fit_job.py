"""The fit job (`studio.fit.v1`): the variant `auto_fit` promised one target, rendered from
the post's video in the shape its platform takes (engine.fit plans it).

Like a clip render it survives a worker's death: each run renders to a scratch file of its
own and streams it to the variant's fixed media id (a rerun overwrites it). The media row,
the target's `fit` made ready, the minutes metered and the publish job brought forward are
one fenced transaction, which only the run holding the job can commit. A variant that cannot
be made fails its target (permanent, with the renderer's reason); the other targets of the
post are untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from crosspost.domain.enums import ErrorKind, TargetStatus
from crosspost.engine import fit
from crosspost.engine.media_intake import probed_values
from crosspost.engine.services import Services
from crosspost.engine.transitions import TargetCancelled, transition
from crosspost.errors import PayloadTooLarge
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.store import media, posts
from crosspost.store.usage import post_creator_key
from crosspost.studio import render_files
from crosspost.studio.render import render_clip
from crosspost.studio.render_spec import RenderError, RenderSpec
from crosspost.usage import processing

log = logging.getLogger("crosspost.renders")
KIND = fit.KIND


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Render one target's variant; a `RenderError` fails the target with its code, any
    other error is retried and, after the job's last allowed error, fails it too."""

    def handle(ctx: JobContext) -> Outcome:
        with svc.db.read() as conn:
            target = posts.get_target(conn, ctx.job.payload["target_id"])
        if target is None or TargetStatus(target["status"]).terminal:
            return ctx.done()
        if not fit.is_waiting(target["fit"]):
            return ctx.done()  # made by an earlier run
        try:
            _render(svc, ctx, target)
        except LeaseLost:
            raise
        except (RenderError, PayloadTooLarge) as exc:
            _fail(svc, ctx, target, exc.code, exc.detail)
        except Exception as exc:
            if ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with backoff
            log.exception("the %s variant of target %s kept failing", target["platform"],
                          target["id"])  # fmt: skip
            message = (
                f"rendering kept failing on our side ({type(exc).__name__}); retry the "
                "target, and tell the operator if it persists"
            )
            _fail(svc, ctx, target, "fit_failed", message)
        return ctx.done()

    return handle


def _render(svc: Services, ctx: JobContext, target: Mapping[str, Any]) -> None:
    state = target["fit"]
    with svc.db.read() as conn:
        source = media.get_media(conn, target["tenant_id"], state["source_media_id"])
    if source is None or source["storage_key"] is None:
        raise RenderError(
            f"the post's video {state['source_media_id']!r} was deleted before its "
            f"{target['platform']} variant was rendered: post again with media that exists",
            code="source_missing",
        )
    scratch = render_files.scratch(svc, target["id"], ctx.job.attempts)
    output_id = state["media_id"]
    with ExitStack() as files:
        files.callback(scratch.unlink, missing_ok=True)
        path = files.enter_context(
            render_files.local_source(svc, source["storage_key"], "the post's video")
        )
        spec = _spec(state, source)
        result = render_clip(path, scratch, spec, progress=_still_held(ctx))
        stored = render_files.store_output(svc, scratch, output_id)
        values = probed_values(
            scratch,
            stored,
            media_id=output_id,
            filename=f"{Path(source['filename'] or 'video').stem}-{target['platform']}.mp4",
            content_type="video/mp4",
        )
    _finish(svc, ctx, target, {"id": output_id, **values}, result.duration_seconds)


def _spec(state: Mapping[str, Any], source: Mapping[str, Any]) -> RenderSpec:
    """The whole video (cut to the platform's longest) in the platform's shape, shown whole
    over a blurred copy of itself: nothing of the picture is lost to the new aspect."""
    return RenderSpec(
        start=0.0,
        end=float(source["duration_seconds"] or 0.0) + 1.0,  # past the end: to its end
        aspect=state["aspect"],
        reframe="blur",
        captions=None,
        max_duration=state["max_duration"],
    )


def _still_held(ctx: JobContext) -> Callable[[int, int], None]:
    """A progress callback that stops the render once the job's lease is lost."""

    def check(done: int, total: int) -> None:
        if ctx.lost:
            raise LeaseLost(f"job {ctx.job.id} was taken over; its render stops")

    return check


def _finish(
    svc: Services, ctx: JobContext, target: Mapping[str, Any], output: dict[str, Any],
    seconds: float,
) -> None:  # fmt: skip
    """The variant's media row, the target's fit ready, the minutes counted and its publish
    job due, in one fenced transaction."""
    now = svc.clock.now()
    state = target["fit"]
    ready = {**state, "status": fit.READY}
    kept = False
    try:
        with svc.db.write() as conn:
            ctx.fence(conn)
            current = posts.get_target(conn, target["id"])
            post = posts.get_post(conn, target["tenant_id"], target["post_id"])
            if (
                current is not None
                and post is not None
                and not TargetStatus(current["status"]).terminal
                and fit.is_waiting(current["fit"])
            ):
                media.insert_media(conn, tenant_id=target["tenant_id"], created_at=now, **output)
                transition(
                    conn, current, now=now, event="fit_ready",
                    data=fit.event_data(target["platform"], ready), fit=ready,
                )  # fmt: skip
                processing.meter_processing(
                    conn,
                    tenant_id=target["tenant_id"],
                    key_id=post_creator_key(conn, target["post_id"]),
                    seconds=seconds,
                    now=now,
                )
                fit.variant_ready(svc.jobs, conn, target["id"], post["publish_at"], now)
                kept = True
    except TargetCancelled:
        kept = False  # cancelled after it was read: the transaction rolled back
    if not kept:
        # Cancelled or ended meanwhile: what this run stored belongs to nothing.
        _discard(svc, output["id"])
        return
    log.info("the %s variant of target %s is ready: %d bytes", target["platform"],
             target["id"], output["size_bytes"])  # fmt: skip


def _fail(
    svc: Services, ctx: JobContext, target: Mapping[str, Any], code: str, message: str
) -> None:
    """The target failed (permanent: the renderer's reason) in one fenced transaction; any
    file an earlier run stored goes."""
    now = svc.clock.now()
    state = target["fit"]
    error = {"code": code[:40], "message": message}
    variant = f"a {state['aspect']} variant for {target['platform']}"
    explained = f"auto_fit could not render {variant}: {message}"
    with svc.db.write() as conn:
        ctx.fence(conn)
        # Once this commits a person may retry the target, whose new fit job must not be
        # taken for this one (still finishing: its row goes a moment later).
        ctx.release_key(conn)
        current = posts.get_target(conn, target["id"])
        if current is not None and not TargetStatus(current["status"]).terminal:
            transition(
                conn,
                current,
                now=now,
                status=TargetStatus.FAILED,
                event="publish_failed",
                data={"error_kind": ErrorKind.PERMANENT.value, "code": code, "message": explained},
                fit={**state, "status": fit.FAILED, "error": error},
                next_attempt_at=None,
                error_kind=ErrorKind.PERMANENT.value,
                error_code=code,
                error_message=explained,
                error_raw={"fit": error},
            )
    _discard(svc, state["media_id"])
    log.warning("the %s variant of target %s failed (%s): %s", target["platform"],
                target["id"], code, message)  # fmt: skip


def _discard(svc: Services, media_id: str) -> None:
    svc.storage.discard_pending(media_id)
    svc.storage.delete(media_id)
