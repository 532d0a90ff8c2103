"""A release on SoundCloud: each track published as a post to the tenant's SoundCloud
account (the publishing engine's exactly-once uploads), then the tracks gathered in one
set in release order.

Each step is written down before the next depends on it: the posts' ids in the transaction
that creates them, so a rerun finds them instead of uploading again; the set is made with
`ensure_set`, which finds the one an earlier attempt made before making one. A retry of a
failed distribution redoes the tracks that failed, and only those. A takedown deletes the
set, then each track.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from crosspost.distribution import distributions, releases
from crosspost.domain.enums import Mode, Platform, TargetStatus
from crosspost.domain.models import PostCreate
from crosspost.engine import tasks
from crosspost.engine.account_calls import call_as
from crosspost.engine.clients import build_client
from crosspost.engine.posts import write_post
from crosspost.engine.remote_delete import delete_post_targets
from crosspost.engine.retries import retry_target
from crosspost.engine.services import Services
from crosspost.errors import Conflict, CrosspostError
from crosspost.identity.audit import Actor
from crosspost.jobs import JobContext, Outcome
from crosspost.platforms import soundcloud_sets
from crosspost.platforms.base import Credentials
from crosspost.store import accounts, posts
from crosspost.store import distributions as rows
from crosspost.store import releases as release_rows
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row

T = TypeVar("T")
STORE = "soundcloud"
# A track in one of these goes nowhere by itself: the distribution fails, saying why; its
# retry tries them again (a reconnected account's targets included).
_STUCK = (TargetStatus.FAILED.value, TargetStatus.NEEDS_REAUTH.value)
_SET_KINDS: dict[str, soundcloud_sets.SetKind] = {"single": "single", "ep": "ep", "album": "album"}


def step(svc: Services, ctx: JobContext, task: Row, row: Row) -> Outcome:
    """The distribution's next step: publish the tracks, wait for them, make the set."""
    external: dict[str, Any] = dict(row["external"] or {})
    if row["action"] == "takedown":
        _take_down(svc, ctx, task, row, external)
        return ctx.done()
    if "posts" not in external:
        _publish_tracks(svc, ctx, row, external)
        return ctx.run_again(after=svc.settings.distribution_poll_seconds)
    if external.get("attempt") != row["attempt"]:
        # A retry: the tracks that failed are tried again; the published ones stay.
        _redo_stuck_tracks(svc, ctx, row, external)
        return ctx.run_again(after=svc.settings.distribution_poll_seconds)
    with svc.db.read() as conn:
        targets = posts.targets_of(conn, external["posts"])
    ordered = [targets[post_id][0] for post_id in external["posts"]]
    failed = [t for t in ordered if t["status"] in _STUCK]
    if failed:
        reasons = "; ".join(
            f"{t['error_code'] or t['status']}: {t['error_message']}" for t in failed
        )
        _end(svc, ctx, task, row, error=("tracks_failed", f"SoundCloud refused: {reasons}"))
        return ctx.done()
    if any(t["status"] == TargetStatus.SCHEDULED.value for t in ordered):
        # The tracks go public on the release date: looked at again now and then.
        if row["status"] != "scheduled":
            with svc.db.write() as conn:
                ctx.fence(conn)
                distributions.set_status(svc, conn, row, "scheduled")
        return ctx.run_again(after=svc.settings.distribution_scheduled_poll_seconds)
    if any(t["status"] != TargetStatus.PUBLISHED.value for t in ordered):
        return ctx.run_again(after=svc.settings.distribution_poll_seconds)
    made = _gather(svc, row, external, [str(t["external_id"]) for t in ordered])
    _end(svc, ctx, task, {**row, "external": {**external, "set": made}}, set_url=made["url"])
    return ctx.done()


def _redo_stuck_tracks(svc: Services, ctx: JobContext, row: Row, external: dict[str, Any]) -> None:
    """A retry's first step. A track parked for a reconnection is tried again as it is (it
    resumes where it stopped); a failed one is published anew as a new post in its place,
    since what SoundCloud refused to process is no upload to come back to."""
    with svc.db.read() as conn:
        targets = posts.targets_of(conn, external["posts"])
    for post_id in external["posts"]:
        for target in targets[post_id]:
            if target["status"] == TargetStatus.NEEDS_REAUTH.value:
                retry_target(svc, tenant_id=row["tenant_id"], post_id=post_id,
                             target_id=target["id"])  # fmt: skip
    with svc.db.write() as conn:
        ctx.fence(conn)
        tracks = release_rows.tracks_of(conn, [row["release_id"]])[row["release_id"]]
        redone = list(external["posts"])
        for index, (post_id, track) in enumerate(zip(external["posts"], tracks, strict=True)):
            if any(t["status"] == TargetStatus.FAILED.value for t in targets[post_id]):
                redone[index] = _post_track(svc, conn, row, external["account_id"], track)
        external = {**external, "posts": redone, "attempt": row["attempt"]}
        rows.update_distribution(conn, row["id"], {"external": external})
        distributions.set_status(svc, conn, {**row, "external": external}, "uploading")


def _publish_tracks(svc: Services, ctx: JobContext, row: Row, external: dict[str, Any]) -> None:
    """One post per track to the account, their ids kept in the same transaction."""
    with svc.db.write() as conn:
        ctx.fence(conn)
        release = releases.get(conn, row["tenant_id"], row["release_id"])
        tracks = release_rows.tracks_of(conn, [release["id"]])[release["id"]]
        made = [_post_track(svc, conn, row, external["account_id"], t) for t in tracks]
        external = {**external, "posts": made, "attempt": row["attempt"]}
        rows.update_distribution(conn, row["id"], {"external": external})
        distributions.set_status(svc, conn, {**row, "external": external}, "uploading")


def _take_down(
    svc: Services, ctx: JobContext, task: Row, row: Row, external: dict[str, Any]
) -> None:
    """The set deleted on SoundCloud, then each track (the posts' remote delete, safe to
    repeat: a track already gone counts as deleted)."""
    with svc.db.write() as conn:
        ctx.fence(conn)
        row = distributions.set_status(svc, conn, row, "uploading")
    made = external.get("set")
    if made is not None:
        _with_account(svc, row, external, lambda creds, base: soundcloud_sets.delete_set(
            svc.http, creds, made["id"], base_url=base, clock=svc.clock))  # fmt: skip
    for post_id in external.get("posts", []):
        try:
            delete_post_targets(
                svc, tenant_id=row["tenant_id"], post_id=post_id, actor=Actor.system()
            )
        except Conflict as exc:
            if exc.code not in ("already_deleted", "not_published"):
                raise
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        rows.put_store(
            conn,
            {
                "distribution_id": row["id"], "store": STORE, "tenant_id": row["tenant_id"],
                "status": "taken_down", "url": None, "reason": None, "updated_at": now,
            },
        )  # fmt: skip
        current = rows.find_distribution(conn, row["id"]) or row
        distributions.set_status(svc, conn, current, "taken_down")
        task = task_rows.get_any(conn, task["id"]) or task
        tasks.succeed(conn, task, {"distribution_id": row["id"], "taken_down": True}, now)


def _post_track(svc: Services, conn: Connection, row: Row, account_id: str, track: Row) -> str:
    """A post publishing one track to the account, in the caller's transaction; its id."""
    version = track["version_title"]
    title = track["title"] + (f" ({version})" if version else "")
    # A release dated later is published on its date (the posts' own scheduling).
    starts = datetime.combine(row["release_date"], time(0, 0), tzinfo=UTC)
    body = PostCreate(
        media_id=track["media_id"],
        text=title,
        targets=[account_id],
        overrides={STORE: {"title": title[:100]}},
        publish_at=starts if starts > svc.clock.now() else None,
    )
    created = write_post(svc, conn, tenant_id=row["tenant_id"], mode=Mode(row["mode"]), body=body)
    return created.post_id


def _gather(
    svc: Services, row: Row, external: dict[str, Any], track_ids: list[str]
) -> dict[str, Any]:
    """The release's set on SoundCloud: found if an earlier attempt made it, else made."""
    with svc.db.read() as conn:
        release = releases.get(conn, row["tenant_id"], row["release_id"])
    found = _with_account(
        svc,
        row,
        external,
        lambda creds, base: soundcloud_sets.ensure_set(
            svc.http,
            creds,
            title=release["title"][:100],
            track_ids=track_ids,
            kind=_SET_KINDS[release["type"]],
            release_date=row["release_date"],
            label=release["label"],
            genre=release["genre"],
            tag=row["id"],
            base_url=base,
            clock=svc.clock,
        ),
    )
    return {"id": found.id, "url": found.permalink_url}


def _with_account(
    svc: Services,
    row: Row,
    external: dict[str, Any],
    call: Callable[[Credentials, str], T],
) -> T:
    """`call(creds, api_base)` as the distribution's SoundCloud account (its token
    refreshed when refused)."""
    with svc.db.read() as conn:
        account = accounts.get_account(conn, row["tenant_id"], external["account_id"])
    if account is None:
        raise CrosspostError("the SoundCloud account was disconnected", code="account_gone")
    mode = Mode(row["mode"])
    client = build_client(svc, Platform.SOUNDCLOUD, mode)
    base = svc.settings.platform_base(Platform.SOUNDCLOUD, test_mode=mode is Mode.TEST)
    return call_as(svc, account, client, lambda creds: call(creds, base))


def _end(
    svc: Services,
    ctx: JobContext,
    task: Row,
    row: Row,
    *,
    set_url: str | None = None,
    error: tuple[str, str] | None = None,
) -> None:
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        rows.update_distribution(conn, row["id"], {"external": row["external"]})
        rows.put_store(
            conn,
            {
                "distribution_id": row["id"],
                "store": STORE,
                "tenant_id": row["tenant_id"],
                "status": "failed" if error else "live",
                "url": set_url,
                "reason": error[1] if error else None,
                "updated_at": now,
            },
        )
        current = rows.find_distribution(conn, row["id"]) or row
        distributions.set_status(svc, conn, current, "failed" if error else "live", error=error)
        task = task_rows.get_any(conn, task["id"]) or task
        if error is not None:
            tasks.fail(conn, task, error[0], error[1], now)
        else:
            tasks.succeed(conn, task, {"distribution_id": row["id"], "set_url": set_url}, now)
