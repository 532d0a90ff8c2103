"""Cover art for a release (`POST /v1/releases/{id}/artwork:generate`, seed 003's
generate-album-art): a `/v1/jobs` job draws the picture, stores it as a media item of the
tenant and names it in its result; `accept` makes an image the release's cover.

The picture is stored under a key fixed by the job, and its media row is written in the
transaction that ends the job: a worker killed mid-way leaves no second media item.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Connection

from crosspost.distribution import releases
from crosspost.domain.enums import ErrorKind
from crosspost.domain.music import ArtworkGenerateRequest
from crosspost.engine import tasks
from crosspost.engine.media_intake import meter_media, probed_values
from crosspost.engine.services import Services
from crosspost.errors import CrosspostError, InvalidInput
from crosspost.ids import new_id
from crosspost.jobs import JobContext, Outcome
from crosspost.media import masters
from crosspost.media.storage import store_file
from crosspost.providers.artwork import ArtworkGenerator, ArtworkRequest, ProceduralArtwork
from crosspost.providers.artwork_hosted import ReplicateArtwork, StabilityArtwork
from crosspost.providers.errors import ProviderError
from crosspost.store import media
from crosspost.store import releases as release_rows
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row

KIND = "release.artwork.v1"


def start(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    release_id: str,
    body: ArtworkGenerateRequest,
) -> Row:
    """Queue the generation (the request checked now, 422 naming what to change)."""
    release = releases.get(conn, tenant_id, release_id)
    _request(release, body.prompt, body.style, body.seed)  # refused here, not in the job
    if body.generator != "procedural":
        _, key = svc.settings.image_model(body.generator, test_mode=release["mode"] == "test")
        if key is None:
            name = {"stability": "STABILITY_API_KEY", "replicate": "REPLICATE_API_TOKEN"}[
                body.generator
            ]
            raise InvalidInput(
                f"{body.generator} is not configured on this server: set CROSSPOST_{name}, "
                "or use the built-in generator (generator: procedural)",
                code="generator_unavailable",
            )
    return tasks.start_task(
        svc,
        conn,
        tenant_id=tenant_id,
        mode=release["mode"],
        kind="artwork_generation",
        job_kind=KIND,
        subject_id=release_id,
        params={**body.model_dump(), "key_id": key_id},
        unit="images",
        total=1,
    )


def accept(
    svc: Services, conn: Connection, *, tenant_id: str, release_id: str, media_id: str
) -> Row:
    """Make `media_id` the release's cover once it meets distributors' rules (read whole:
    call off the event loop); the release row."""
    releases.get(conn, tenant_id, release_id, lock=True)
    releases.not_distributed(conn, release_id, "changed")
    item = media.get_media(conn, tenant_id, media_id, hold=True)
    if item is None or item["kind"] != "image" or item["storage_key"] is None:
        raise InvalidInput(
            f"no image {media_id!r} in your library; upload one with POST /v1/media or "
            "generate one (POST /v1/releases/{id}/artwork:generate)",
            code="media_not_found",
        )
    with svc.storage.local_file(item["storage_key"]) as path:
        masters.check_artwork(masters.inspect_artwork(path))
    release_rows.set_artwork(conn, release_id, media_id, svc.clock.now())
    return releases.get(conn, tenant_id, release_id)


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Draw the cover, store it as a media item, end the job with its id."""

    def handle(ctx: JobContext) -> Outcome:
        task = tasks.load(svc, ctx)
        if task is None:
            return ctx.done()
        params = task["params"]
        with svc.db.read() as conn:
            release = release_rows.get_release(conn, task["tenant_id"], task["subject_id"])
        if release is None:
            _end(svc, ctx, task, failure=("release_not_found", "the release was deleted"))
            return ctx.done()
        request = _request(release, params["prompt"], params["style"], params["seed"])
        began = time.monotonic()
        try:
            art = _generator(svc, params.get("generator", "procedural"), release).generate(request)
        except ProviderError as exc:
            if exc.retryable and ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with the job's backoff
            _end(svc, ctx, task, failure=(exc.code, exc.message))
            return ctx.done()
        seconds = round(time.monotonic() - began, 3)
        media_id = new_id("med")
        key = f"releases/{task['tenant_id']}/{release['id']}/artwork-{task['id']}.jpg"
        with tempfile.TemporaryDirectory(dir=svc.settings.resolved_media_dir) as folder:
            path = Path(folder) / "cover.jpg"
            path.write_bytes(art.data)
            stored = store_file(svc.storage, path, key)
            values = probed_values(
                path, stored, media_id=media_id, filename="cover.jpg", content_type="image/jpeg"
            )
        now = svc.clock.now()
        result = {
            "media_id": media_id,
            "release_id": release["id"],
            "generator": art.generator,
            "style": art.style,
            "seed": art.seed,
            "width": art.width,
            "height": art.height,
            "seconds": seconds,
        }
        with svc.db.write() as conn:
            ctx.fence(conn)
            current = task_rows.get_any(conn, task["id"]) or task
            try:
                meter_media(
                    conn, tenant_id=task["tenant_id"], key_id=params["key_id"], values=values,
                    now=now,
                )  # fmt: skip
            except CrosspostError as exc:  # the month's storage quota: no media item
                tasks.fail(conn, current, exc.code, exc.detail, now)
                return ctx.done()
            media.insert_media(conn, id=media_id, tenant_id=task["tenant_id"], created_at=now,
                               **values)  # fmt: skip
            tasks.succeed(conn, current, result, now)
        return ctx.done()

    return handle


def _generator(svc: Services, name: str, release: Row) -> ArtworkGenerator:
    """The generator a job asked for: built in, or a hosted model with this server's key."""
    if name == "procedural":
        return ProceduralArtwork()
    base, key = svc.settings.image_model(name, test_mode=release["mode"] == "test")
    if key is None:
        raise ProviderError(
            ErrorKind.PERMANENT, "generator_unavailable", f"{name} is no longer configured"
        )
    if name == "stability":
        return StabilityArtwork(svc.http, api_key=key, base_url=base)
    return ReplicateArtwork(
        svc.http, api_token=key, base_url=base, model=svc.settings.replicate_model
    )


def _request(
    release: Row, prompt: str | None, style: str | None, seed: int | None
) -> ArtworkRequest:
    artists = [a["name"] for a in release["artists"] if a["role"] == "main"]
    return ArtworkRequest(
        title=release["title"],
        artist=", ".join(artists)[:200],
        prompt=prompt,
        style=style,
        seed=seed,
    )


def _end(svc: Services, ctx: JobContext, task: Row, *, failure: tuple[str, str]) -> None:
    with svc.db.write() as conn:
        ctx.fence(conn)
        current = task_rows.get_any(conn, task["id"]) or task
        tasks.fail(conn, current, failure[0], failure[1], svc.clock.now())
