"""Transcribing a source as a job (`POST /v1/projects/{id}/sources/{media_id}/transcribe` →
`/v1/jobs/{id}`), through the OpenAI-compatible transcription API (the sandbox's fake for
test keys). The transcript is kept with the task's end in one fenced transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.engine import Connection

from crosspost.domain.enums import ErrorKind
from crosspost.engine import tasks
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.providers.errors import ProviderError
from crosspost.providers.transcription import OpenAITranscriber
from crosspost.store import studio
from crosspost.store.rows import Row
from crosspost.studio.projects import get_project, get_source
from crosspost.usage import ai

KIND = "studio.transcribe.v1"
log = logging.getLogger("crosspost.studio")


def start_transcription(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    mode: str,
    project_id: str,
    media_id: str,
    language: str | None,
) -> Row:
    """Queue the transcription of one source (its speech replaces any transcript it has);
    402 when the month's `transcription_minutes` cap has no room for it."""
    project = get_project(conn, tenant_id, project_id, lock=True)
    source = get_source(conn, project, media_id)
    seconds = float(source["duration_seconds"] or 0.0)
    ai.check_transcription(
        conn, tenant_id=tenant_id, key_id=key_id, seconds=seconds, now=svc.clock.now()
    )
    base_url, key = svc.settings.transcription(test_mode=mode == "test")
    if key is None:
        raise InvalidInput(
            "transcription is not configured on this server (set "
            "CROSSPOST_TRANSCRIPTION_API_KEY) — attach a WebVTT or SRT file "
            "instead",
            code="transcription_unavailable",
        )
    params = {
        "media_id": media_id,
        "mode": mode,
        "language": language,
        "base_url": base_url,
        "key_id": key_id,
    }
    return tasks.start_task(
        svc,
        conn,
        tenant_id=tenant_id,
        mode=mode,
        kind="transcription",
        job_kind=KIND,
        subject_id=project_id,
        params=params,
        unit="seconds",
        total=source["duration_seconds"],
    )


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Send the source's audio to the transcription API; keep what it heard."""

    def handle(ctx: JobContext) -> Outcome:
        task = tasks.load(svc, ctx)
        if task is None:
            return ctx.done()
        params = task["params"]
        base_url, key = svc.settings.transcription(test_mode=params["mode"] == "test")
        with svc.db.read() as conn:
            source = studio.get_source(conn, task["subject_id"], params["media_id"])
        if source is None or source["storage_key"] is None or key is None:
            _fail(
                svc,
                ctx,
                task,
                "source_gone",
                "the source left the project before it was "
                "transcribed (or transcription was switched off); start again",
            )
            return ctx.done()
        try:
            with (
                svc.storage.local_file(source["storage_key"]) as path,
                OpenAITranscriber(
                    base_url,
                    key,
                    svc.settings.transcription_model,
                    timeout=svc.settings.transcription_timeout_seconds,
                ) as transcriber,
            ):
                heard = transcriber.transcribe(path, language=params["language"])
        except LeaseLost:
            raise
        except ProviderError as exc:
            if exc.kind is ErrorKind.TRANSIENT and ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with the job's backoff
            _fail(svc, ctx, task, exc.code, exc.message)
            return ctx.done()
        except InvalidInput as exc:  # no audio track, or undecodable
            _fail(svc, ctx, task, exc.code, exc.detail)
            return ctx.done()
        now = svc.clock.now()
        with svc.db.write() as conn:
            ctx.fence(conn)
            if studio.get_source(conn, task["subject_id"], params["media_id"]) is None:
                tasks.fail(conn, task, "source_gone", "the source left the project", now)
                return ctx.done()
            studio.update_source(
                conn,
                task["subject_id"],
                params["media_id"],
                {"transcript": heard.to_json(), "transcript_origin": "transcribed"},
            )
            studio.update_project(conn, task["subject_id"], {"updated_at": now})
            ai.meter_transcription(
                conn,
                tenant_id=task["tenant_id"],
                # tasks queued before the cap existed carry no key: count them to the tenant
                key_id=params.get("key_id", ""),
                seconds=float(source["duration_seconds"] or 0.0),
                now=now,
            )
            tasks.succeed(
                conn,
                task,
                {
                    "media_id": params["media_id"],
                    "segments": len(heard.segments),
                    "language": heard.language,
                },
                now,
            )
        return ctx.done()

    return handle


def _fail(svc: Services, ctx: JobContext, task: Row, code: str, message: str) -> None:
    with svc.db.write() as conn:
        ctx.fence(conn)
        tasks.fail(conn, task, code, message, svc.clock.now())
