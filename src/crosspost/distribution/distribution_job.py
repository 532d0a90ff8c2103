"""One attempt of a distribution (`distribution.ddex.v1`): for DDEX, the batch delivered to
the distributor by SFTP, then its acknowledgement and status reports followed until every
store has its answer (a soundcloud distribution's steps are `soundcloud_channel`'s).

The batch id is fixed (and stored) before the first byte goes out, so a worker killed
mid-upload leaves the job to another that resumes the same batch: files already whole are
skipped, a partial one is finished, and the completion marker goes last. The distributor
judges a batch once, so the release is delivered once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Literal

from crosspost.distribution import distributions, releases, soundcloud_channel
from crosspost.distribution.distributor import Distributor, distributor_for
from crosspost.distribution.ern import (
    ErnArtist,
    ErnContributor,
    ErnImage,
    ErnRelease,
    ErnTrack,
    new_release_message,
    takedown_message,
)
from crosspost.distribution.sftp import (
    BatchFile,
    DeliveryError,
    deliver_batch,
    read_acknowledgements,
    read_status_reports,
)
from crosspost.domain.enums import ErrorKind
from crosspost.engine import tasks
from crosspost.engine.account_calls import AccountUnusable
from crosspost.engine.services import Services
from crosspost.engine.tokens import RefreshInProgress
from crosspost.errors import CrosspostError
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.platforms.errors import OutcomeUnknown, PlatformError
from crosspost.providers.errors import ProviderError
from crosspost.store import distributions as rows
from crosspost.store import media
from crosspost.store import releases as release_rows
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row

KIND = distributions.JOB_KIND
_STORE_STATUS = {
    "Processing": "processing",
    "Scheduled": "scheduled",
    "Live": "live",
    "Failed": "failed",
    "TakenDown": "taken_down",
}
log = logging.getLogger("crosspost.distribution")


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Deliver the attempt's batch, then follow it until the stores have answered."""

    def handle(ctx: JobContext) -> Outcome:
        task = tasks.load(svc, ctx)
        if task is None:
            return ctx.done()
        with svc.db.read() as conn:
            row = rows.find_distribution(conn, task["subject_id"])
        if row is None or row["task_id"] != task["id"]:
            _end_task(svc, ctx, task, failure=("superseded", "a later attempt replaced this one"))
            return ctx.done()
        try:
            if row["channel"] == soundcloud_channel.STORE:
                return soundcloud_channel.step(svc, ctx, task, row)
            found = distributor_for(svc, test=row["mode"] == "test")
            if row["delivered_at"] is None:
                _deliver(svc, ctx, task, row, found)
                return ctx.run_again(after=0)
            return _follow(svc, ctx, task, row, found)
        except LeaseLost:
            raise
        except (ProviderError, DeliveryError, PlatformError, RefreshInProgress) as exc:
            if _retryable(exc) and ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with the job's backoff; a delivery resumes where it stopped
            code, message = (
                (exc.code, exc.message)
                if not isinstance(exc, RefreshInProgress)
                else ("account_refreshing", "the account's token was being refreshed")
            )
            _fail(svc, ctx, task, row, code, message)
            return ctx.done()
        except AccountUnusable as exc:
            _fail(
                svc, ctx, task, row, "account_needs_reauth", f"reconnect the account: {exc.reason}"
            )
            return ctx.done()
        except CrosspostError as exc:
            _fail(svc, ctx, task, row, exc.code, exc.detail)
            return ctx.done()

    return handle


def _retryable(exc: Exception) -> bool:
    """Whether the job's backoff should try again: a transient failure, a rate limit, an
    answer lost, a refresh under way elsewhere."""
    if isinstance(exc, RefreshInProgress | OutcomeUnknown):
        return True
    if isinstance(exc, PlatformError):
        return exc.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED)
    return isinstance(exc, ProviderError | DeliveryError) and exc.retryable


def _deliver(svc: Services, ctx: JobContext, task: Row, row: Row, found: Distributor) -> None:
    batch_id = row["batch_id"] or f"{row['id']}-{row['attempt']}"
    with svc.db.write() as conn:
        ctx.fence(conn)
        row = distributions.set_status(svc, conn, row, "uploading", batch_id=batch_id)
    with svc.db.read() as conn:
        release = releases.get(conn, row["tenant_id"], row["release_id"])
        tracks = release_rows.tracks_of(conn, [release["id"]])[release["id"]]
        named = [t["media_id"] for t in tracks] + [release["artwork_media_id"]]
        stored = {i: media.get_media(conn, row["tenant_id"], i) for i in named if i is not None}
    takedown = row["action"] == "takedown"
    # What the stores hold the files of: an update whose masters and cover are those is
    # sent as metadata alone; one that changed them carries the files again.
    sent = [t["master"]["md5"] for t in tracks] + [release["artwork_media_id"]]
    same_files = row["action"] == "update" and (row["external"] or {}).get("sent") == sent
    provided = not takedown and not same_files
    with ExitStack() as stack:
        files, ern = _package(svc, stack, release, tracks, stored, row, provided=provided)
        options = {
            "sender": found.sender,
            "recipient": found.recipient,
            "message_id": batch_id,
            "thread_id": row["id"],
            "created_at": svc.clock.now(),
        }
        if takedown:
            message = takedown_message(ern, **options)
        else:
            message = new_release_message(ern, update=same_files, **options)
        done: set[str] = set()

        def progress(name: str, sent: int, size: int) -> None:
            if sent >= size and name not in done:
                done.add(name)
                tasks.report(svc, ctx, task["id"], len(done), len(files))

        deliver_batch(
            found.target, batch_id, files, message, f"{batch_id}.xml", on_progress=progress
        )
    with svc.db.write() as conn:
        ctx.fence(conn)
        external = {**(row["external"] or {}), "sent": sent} if provided else row["external"]
        distributions.set_status(
            svc, conn, row, "processing", delivered_at=svc.clock.now(), external=external
        )


def _follow(svc: Services, ctx: JobContext, task: Row, row: Row, found: Distributor) -> Outcome:
    batch_id = str(row["batch_id"])
    again = ctx.run_again(after=svc.settings.distribution_poll_seconds)
    ack = next(
        (a for a in read_acknowledgements(found.target, batch_id) if a.batch_id == batch_id), None
    )
    if ack is None:
        return again
    if not ack.accepted:
        reasons = "; ".join(f"{e.code}: {e.text}" for e in ack.errors) or "no reason given"
        _fail(svc, ctx, task, row, "distributor_rejected", f"the distributor refused it: {reasons}")
        return ctx.done()
    reports = [r for r in read_status_reports(found.target, batch_id) if r.message_id == batch_id]
    if not reports:
        return again
    latest = max(reports, key=lambda r: r.sequence)
    now = svc.clock.now()
    states = [(s.store, _STORE_STATUS.get(s.status, "processing"), s.url, s.reason)
              for s in latest.stores]  # fmt: skip
    with svc.db.write() as conn:
        ctx.fence(conn)
        for store, status, url, reason in states:
            rows.put_store(
                conn,
                {
                    "distribution_id": row["id"],
                    "store": store,
                    "tenant_id": row["tenant_id"],
                    "status": status,
                    "url": url,
                    "reason": reason,
                    "updated_at": now,
                },
            )
        if not states or any(status == "processing" for _, status, _, _ in states):
            return again
        if any(status == "scheduled" for _, status, _, _ in states):
            # Held for its release date: looked at again now and then, not every minute.
            if row["status"] != "scheduled":
                distributions.set_status(svc, conn, row, "scheduled")
            return ctx.run_again(after=svc.settings.distribution_scheduled_poll_seconds)
        ended, error = _outcome(row, states)
        row = distributions.set_status(svc, conn, row, ended, error=error)
        task = task_rows.get_any(conn, task["id"]) or task
        result = {"distribution_id": row["id"], "status": ended, "stores": len(states)}
        if error is not None:
            tasks.fail(conn, task, error[0], error[1], now)
        else:
            tasks.succeed(conn, task, result, now)
    return ctx.done()


def _outcome(
    row: Row, states: list[tuple[str, str, str | None, str | None]]
) -> tuple[str, tuple[str, str] | None]:
    """The distribution's end from its stores': live when any store took it (the others'
    reasons stay on their stores), taken down when every store withdrew it, else failed."""
    if row["action"] == "takedown":
        left = [store for store, status, _, _ in states if status != "taken_down"]
        if not left:
            return "taken_down", None
        return "failed", ("takedown_incomplete", f"still in {', '.join(left)}")
    if any(status == "live" for _, status, _, _ in states):
        return "live", None
    reasons = "; ".join(f"{store}: {reason or 'no reason given'}" for store, _, _, reason in states)
    return "failed", ("stores_refused", f"every store refused the release: {reasons}")


def _package(
    svc: Services,
    stack: ExitStack,
    release: Row,
    tracks: list[Row],
    stored: dict[str, Row | None],
    row: Row,
    *,
    provided: bool,
) -> tuple[list[BatchFile], ErnRelease]:
    """The batch's files (local copies of the masters and the artwork) and the release as
    DDEX describes it. A master deleted since fails the attempt: nothing to deliver."""
    files: list[BatchFile] = []
    ern_tracks: list[ErnTrack] = []
    artists = [ErnArtist(a["name"], a["role"]) for a in release["artists"]]
    for number, track in enumerate(tracks, start=1):
        master = track["master"]
        item = _present(stored.get(track["media_id"]), track["media_id"])
        extension = "flac" if master["codec"] == "flac" else "wav"
        name = f"resources/{release['upc']}_01_{number:03d}.{extension}"
        if provided:
            path = stack.enter_context(svc.storage.local_file(item["storage_key"]))
            files.append(BatchFile(path, name, int(master["size_bytes"]), str(master["md5"])))
        ern_tracks.append(
            ErnTrack(
                isrc=track["isrc"],
                title=track["title"],
                version_title=track["version_title"],
                artists=[ErnArtist(a["name"], a["role"]) for a in track["artists"] or ()]
                or artists,
                contributors=[ErnContributor(c["name"], c["role"]) for c in track["contributors"]],
                duration_seconds=float(master["duration_seconds"]),
                explicit=bool(track["explicit"]),
                language=track["language"] or release["language"],
                preview_start_seconds=float(track["preview_start_seconds"]),
                file_name=name,
                md5=str(master["md5"]),
                size_bytes=int(master["size_bytes"]),
                audio_codec="FLAC" if master["codec"] == "flac" else "PCM",
                bit_depth=int(master["bit_depth"]),
                sample_rate=int(master["sample_rate"]),
                channels=int(master["channels"]),
                p_line_year=release["p_line"]["year"],
                p_line_owner=release["p_line"]["owner"],
            )
        )
    image = None
    if release["artwork_media_id"] is not None:
        item = _present(stored.get(release["artwork_media_id"]), release["artwork_media_id"])
        codec: Literal["JPEG", "PNG"] = "PNG" if item["content_type"] == "image/png" else "JPEG"
        name = f"resources/{release['upc']}.{'png' if codec == 'PNG' else 'jpg'}"
        path = stack.enter_context(svc.storage.local_file(item["storage_key"]))
        digest = _md5(path)
        size = path.stat().st_size
        if provided:
            files.append(BatchFile(path, name, size, digest))
        image = ErnImage(
            file_name=name,
            md5=digest,
            size_bytes=size,
            width=int(item["width"]),
            height=int(item["height"]),
            image_codec=codec,
        )
    ern = ErnRelease(
        upc=release["upc"],
        title=release["title"],
        version_title=release["version_title"],
        release_type=release["type"],
        artists=artists,
        label=release["label"],
        genre=release["genre"],
        sub_genre=release["sub_genre"],
        language=release["language"],
        p_line=(release["p_line"]["year"], release["p_line"]["owner"]),
        c_line=(release["c_line"]["year"], release["c_line"]["owner"]),
        original_release_date=release["original_release_date"],
        release_date=row["release_date"],
        territories=tuple(release["territories"]),
        tracks=ern_tracks,
        image=image,
    )
    return files, ern


def _present(item: Row | None, media_id: str) -> Row:
    if item is None or item["storage_key"] is None:
        raise ProviderError(
            ErrorKind.PERMANENT,
            "media_gone",
            f"media {media_id} of the release is gone; put the release back together "
            "(PUT /v1/releases/{id}) and retry",
        )
    return item


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # DDEX's HashSum: integrity, not secrecy
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fail(
    svc: Services, ctx: JobContext, task: Row, row: Row | None, code: str, message: str
) -> None:
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        if row is not None:
            current = rows.find_distribution(conn, row["id"]) or row
            distributions.set_status(svc, conn, current, "failed", error=(code, message))
        current_task = task_rows.get_any(conn, task["id"]) or task
        tasks.fail(conn, current_task, code, message, now)
    log.warning("distribution %s failed: %s", row["id"] if row else task["subject_id"], code)


def _end_task(svc: Services, ctx: JobContext, task: Row, *, failure: tuple[str, str]) -> None:
    _fail(svc, ctx, task, None, *failure)
