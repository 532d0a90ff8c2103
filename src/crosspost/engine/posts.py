"""Creating and cancelling posts: validate everything, then write post, targets, ledger and jobs
in one transaction, so a refused request leaves no row behind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import (
    AccountRole,
    AccountStatus,
    ErrorKind,
    MediaKind,
    Mode,
    Platform,
    PostStatus,
    TargetStatus,
)
from crosspost.domain.models import PostCreate, PostEdit
from crosspost.engine import events, fit, post_sources
from crosspost.engine.media_library import check_usable
from crosspost.engine.overrides import (
    THUMBNAIL_OPTION,
    check_overrides,
    check_targeted,
    thumbnail_of,
    title_of,
)
from crosspost.engine.publish_jobs import enqueue_publishes
from crosspost.engine.rollup import rollup
from crosspost.engine.services import Services
from crosspost.engine.transitions import refresh_post_status
from crosspost.errors import Conflict, InvalidInput, MediaRejected, NotFound, Problems, a_or_an
from crosspost.ids import new_id
from crosspost.localtime import check_offset, local_to_utc, zone_named
from crosspost.media.validate import MediaInfo, Violation, validate, validate_carousel
from crosspost.platforms.options import PlatformOptions
from crosspost.platforms.registry import client_for, supported_platforms
from crosspost.store import accounts, ledger, media, posts, renders
from crosspost.store.prepared import pipelined
from crosspost.store.rows import Row
from crosspost.store.usage import TENANT_TOTAL
from crosspost.usage import metering, processing

_PAST_GRACE = timedelta(minutes=5)


def resolve_publish_at(body: PostCreate | PostEdit, now: datetime) -> datetime | None:
    """The aware UTC publish time, reading a naive time in `timezone` (daylight saving
    included: a time the zone skips or repeats is refused unless `fold` says which)."""
    zone = zone_named(body.timezone) if body.timezone is not None else None
    when = body.publish_at
    if body.fold is not None and (when is None or when.tzinfo is not None):
        raise InvalidInput(
            "fold chooses between the two readings of a repeated local publish_at; "
            + ("there is no publish_at" if when is None else "this one has a UTC offset")
            + ": remove fold",
            code="fold_not_applicable",
        )
    if when is None:
        return None
    if when.tzinfo is None:
        if zone is None:
            raise InvalidInput(
                "publish_at has no UTC offset; add one (2026-12-01T18:00:00+01:00) or give "
                "`timezone`",
                code="timezone_required",
            )
        when = local_to_utc(when, zone, fold=body.fold)
    elif zone is not None:
        check_offset(when, zone)
    when = when.astimezone(UTC)
    if when < now - _PAST_GRACE:
        raise InvalidInput(
            f"publish_at {when.isoformat()} is in the past; omit it to publish now",
            code="publish_at_in_past",
        )
    return when if when > now else None


def resolve_targets(
    conn: Connection,
    tenant_id: str,
    mode: Mode,
    names: list[str],
    problems: Problems,
    *,
    field: str = "targets",
) -> list[tuple[int, Row]]:
    """The accounts the targets name, with each target's index; a target that names none is
    a problem of its own."""
    supported = supported_platforms()
    # One query for every account of the tenant in this mode; targets are resolved from it.
    owned = accounts.find_accounts(conn, tenant_id, mode=mode.value)
    by_id = {a["id"]: a for a in owned}
    resolved: list[tuple[int, Row]] = []
    for index, name in enumerate(names):
        with problems.at(f"{field}[{index}]"):
            account = _target_account(conn, tenant_id, mode, name, owned, by_id, supported)
            if any(r["id"] == account["id"] for _, r in resolved):
                raise InvalidInput(
                    f"account {account['id']} is named twice in targets", code="duplicate_target"
                )
            resolved.append((index, account))
    return resolved


def _target_account(
    conn: Connection,
    tenant_id: str,
    mode: Mode,
    name: str,
    owned: list[Row],
    by_id: Mapping[str, Row],
    supported: frozenset[Platform],
) -> Row:
    if name.startswith("acc_"):
        found = by_id.get(name)
        if found is None:
            other = accounts.get_account(conn, tenant_id, name)
            if other is None:
                raise InvalidInput(f"no social account {name!r}", code="account_not_found")
            raise InvalidInput(
                f"account {name} is a {other['mode']} account; a {mode.value} key can only "
                f"post to {mode.value} accounts",
                code="mode_mismatch",
            )
        account = found
    else:
        account = _platform_account(owned, name, mode, supported)
    if Platform(account["platform"]) not in supported:
        raise InvalidInput(
            f"account {account['id']} is on {account['platform']}, which is not supported yet",
            code="unsupported_platform",
        )
    return account


def _platform_account(
    owned: list[Row], name: str, mode: Mode, supported: frozenset[Platform]
) -> Row:
    """The one main account a platform name stands for."""
    try:
        platform: Platform | None = Platform(name.lower())
    except ValueError:
        platform = None
    if platform is None or platform not in supported:
        raise InvalidInput(
            f"unsupported platform {name!r}; supported: "
            + ", ".join(sorted(p.value for p in supported)),
            code="unsupported_platform",
        )
    candidates = [
        a for a in owned if a["platform"] == platform.value and a["role"] == AccountRole.MAIN.value
    ]
    if not candidates:
        hint = (
            "run `crosspost serve --sandbox` to get sandbox accounts"
            if mode is Mode.TEST
            else f"connect one with `crosspost accounts connect {platform.value}`"
        )
        raise InvalidInput(
            f"no {mode.value} {platform.value} account is connected; {hint}",
            code="no_account_for_platform",
        )
    if len(candidates) > 1:
        raise InvalidInput(
            f"several {platform.value} accounts are connected; name one by id: "
            + ", ".join(a["id"] for a in candidates),
            code="ambiguous_platform",
        )
    return candidates[0]


def check_thumbnails(
    conn: Connection, tenant_id: str, options: Mapping[Platform, PlatformOptions]
) -> None:
    """A `thumbnail_media_id` override must name an uploaded image."""
    for platform, chosen in options.items():
        cover_id = thumbnail_of(chosen)
        if cover_id is None:
            continue
        row = media.get_media(conn, tenant_id, cover_id)
        if row is None:
            raise InvalidInput(
                f"no media {cover_id!r} for the {platform.value} thumbnail "
                f"(overrides.{platform.value}.{THUMBNAIL_OPTION}); upload the image first",
                code="thumbnail_not_found",
            )
        check_usable(row)
        if row["kind"] != MediaKind.IMAGE.value:
            raise InvalidInput(
                f"the {platform.value} thumbnail {cover_id} is {a_or_an(row['kind'])}; "
                "use a JPEG or PNG image",
                code="thumbnail_not_image",
            )


def target_violations(
    platform: Platform, options: PlatformOptions | None, info: MediaInfo | None, text: str
) -> list[Violation]:
    """Every rule of `platform` the post breaks (its kind of post, the media's limits, the
    text and title on that platform); the CLI checks the same before uploading."""
    client = client_for(platform)
    chosen = options or client.options_model()
    return validate(
        client.limits_for(info.kind if info else None),
        info,
        chosen.text or text,
        title=title_of(chosen),
        destination=platform.value,
    )


@dataclass(frozen=True)
class TargetPlan:
    """One destination of a checked post: its account and the rules the post breaks there."""

    index: int
    account: Row
    platform: Platform
    violations: tuple[Violation, ...]
    # auto_fit's variant, when a render repairs every violation (which are then not kept).
    fitting: fit.FitPlan | None = None

    def warnings(self) -> list[dict[str, str]]:
        """What would hold this target up without refusing it, each with what to do."""
        status = self.account["status"]
        if status == AccountStatus.ACTIVE.value:
            return []
        platform = self.platform.value
        reason = "needs reconnecting" if status == AccountStatus.NEEDS_REAUTH.value else status
        return [
            {
                "field": "account",
                "message": f"{platform} account {self.account['id']} is {status} and will not "
                f"publish until it is reconnected ({reason}): run `crosspost accounts connect "
                f"{platform}` (POST /v1/accounts/connect)",
                "type": f"account_{status}",
            }
        ]


@dataclass(frozen=True)
class PostPlan:
    """A post that passed every check: when it publishes and what each target would do."""

    publish_at: datetime | None
    targets: tuple[TargetPlan, ...]
    media_id: str | None = None  # the single medium, `render_id`'s video resolved
    text: str = ""  # the caption, a content source's resolved


def check_post(
    conn: Connection,
    *,
    tenant_id: str,
    mode: Mode,
    body: PostCreate,
    now: datetime,
    described: MediaInfo | None = None,
    hold_media: bool = False,
) -> PostPlan:
    """Every check a new post must pass, writing nothing; `described` stands for media not
    uploaded yet, `hold_media` keeps the media from deletion until the caller commits.
    Raises the 422 create answers, with every problem found in `errors`."""
    problems = Problems()
    publish_at: datetime | None = None
    options: dict[Platform, PlatformOptions] | None = None
    info: MediaInfo | None = None
    if body.render_id is not None:
        with problems.at("render_id"):
            body = body.model_copy(
                update={"media_id": render_media(conn, tenant_id, body), "render_id": None}
            )
    if body.content_item_id is not None or body.recap_job_id is not None:
        with problems.at("content_item_id" if body.content_item_id else "recap_job_id"):
            body = post_sources.from_content(conn, tenant_id, body)
    with problems.at("publish_at"):
        publish_at = resolve_publish_at(body, now)
    with problems.at("overrides"):
        options = check_overrides(body.overrides)
    media_ok = False
    with problems.at("media_id"):
        info = _media_of(conn, tenant_id, body, described, hold=hold_media)
        media_ok = True
    items = _items_of(conn, tenant_id, body.media_ids or [], problems, hold=hold_media)
    media_ok = media_ok and items is not None
    if options is not None:
        with problems.at("overrides"):
            check_thumbnails(conn, tenant_id, options)
    resolved = resolve_targets(conn, tenant_id, mode, body.targets, problems)
    if options is not None and len(resolved) == len(body.targets):
        with problems.at("overrides"):
            check_targeted(options, (a["platform"] for _, a in resolved))
    plans: tuple[TargetPlan, ...] = ()
    if media_ok:
        plans = tuple(
            _plan(i, account, options or {}, info, items or (), body.text, body.auto_fit)
            for i, account in resolved
        )
        if plans and all(plan.violations for plan in plans):
            with problems.at("targets"):
                _refuse_all(plans)
    problems.raise_found()
    return PostPlan(publish_at, plans, body.media_id, body.text)


def render_media(conn: Connection, tenant_id: str, body: PostCreate) -> str:
    """The video of the ready render `body.render_id` names, which the post publishes."""
    if body.media_id is not None or body.media_ids is not None:
        raise InvalidInput(
            "give render_id (a render of the clip studio) or media_id/media_ids, not both",
            code="media_conflict",
        )
    render = renders.get_render(conn, tenant_id, str(body.render_id))
    if render is None:
        raise InvalidInput(
            f"no render {body.render_id!r}; render a clip with POST /v1/clips/{{id}}/renders",
            code="render_not_found",
        )
    if render["status"] != "ready" or render["media_id"] is None:
        raise InvalidInput(
            f"render {render['id']} is {render['status']}, not ready: publish it once "
            f"GET /v1/renders/{render['id']} says ready (the export.ready webhook)"
            + (", or render the clip again" if render["status"] == "failed" else ""),
            code="render_not_ready",
        )
    return str(render["media_id"])


def _media_of(
    conn: Connection,
    tenant_id: str,
    body: PostCreate,
    described: MediaInfo | None,
    *,
    hold: bool = False,
) -> MediaInfo | None:
    if body.media_ids is not None:
        if body.media_id is not None or described is not None:
            raise InvalidInput(
                "give media_ids (several uploaded files) or media_id (one), not both",
                code="media_conflict",
            )
        return None
    if body.media_id is not None:
        if described is not None:
            raise InvalidInput(
                "give media_id (an uploaded file) or media (a file to upload), not both",
                code="media_conflict",
            )
        row = media.get_media(conn, tenant_id, body.media_id, hold=hold)
        if row is None:
            raise InvalidInput(
                f"no media {body.media_id!r}; upload it first with POST /v1/media",
                code="media_not_found",
            )
        check_usable(row)
        return MediaInfo.from_row(row)
    if described is None and not body.text.strip():
        raise InvalidInput("a post needs media_id, text, or both", code="empty_post")
    return described


def _items_of(
    conn: Connection, tenant_id: str, media_ids: Sequence[str], problems: Problems, *, hold: bool
) -> tuple[MediaInfo, ...] | None:
    """The media of a post of several media, each checked where it is named; None when one
    of them cannot be used."""
    infos: list[MediaInfo] = []
    for index, media_id in enumerate(media_ids):
        with problems.at(f"media_ids[{index}]"):
            infos.append(media_item(conn, tenant_id, media_id, hold=hold))
    return tuple(infos) if len(infos) == len(media_ids) else None


def media_item(conn: Connection, tenant_id: str, media_id: str, *, hold: bool) -> MediaInfo:
    """What validation knows of one usable media item; 422 when it is missing or not ready."""
    row = media.get_media(conn, tenant_id, media_id, hold=hold)
    if row is None:
        raise InvalidInput(
            f"no media {media_id!r}; upload it first with POST /v1/media", code="media_not_found"
        )
    check_usable(row)
    return MediaInfo.from_row(row)


def post_violations(
    platform: Platform,
    options: PlatformOptions | None,
    info: MediaInfo | None,
    items: Sequence[MediaInfo],
    text: str,
) -> list[Violation]:
    """Every rule of `platform` the post breaks: a post of several media (`items`) by the
    platform's carousel rules, else by `target_violations`."""
    if not items:
        return target_violations(platform, options, info, text)
    client = client_for(platform)
    chosen = options or client.options_model()
    return validate_carousel(
        client.carousel,
        client.limits_for,
        items,
        chosen.text or text,
        title=title_of(chosen),
        destination=platform.value,
    )


def _plan(
    index: int,
    account: Row,
    options: Mapping[Platform, PlatformOptions],
    info: MediaInfo | None,
    items: Sequence[MediaInfo],
    text: str,
    auto_fit: bool,
) -> TargetPlan:
    platform = Platform(account["platform"])
    violations = post_violations(platform, options.get(platform), info, items, text)
    fitting = fit.fit_for(platform, info, items, violations) if auto_fit else None
    if fitting is not None:
        return TargetPlan(index, account, platform, (), fitting)
    return TargetPlan(index, account, platform, tuple(violations))


def _refuse_all(plans: tuple[TargetPlan, ...]) -> None:
    refusals = {
        plan.account["id"]: [{"code": v.code, "message": v.message} for v in plan.violations]
        for plan in plans
    }
    first = plans[0].violations[0]
    raise MediaRejected(
        "no target accepts this post: " + "; ".join(p.violations[0].message for p in plans),
        code=first.code,
        violations=refusals,
        errors=[
            {
                "field": f"targets[{plan.index}]",
                "message": f"{plan.platform.value}: {v.message}",
                "type": v.code,
            }
            for plan in plans
            for v in plan.violations
        ],
    )


def target_row(
    tenant_id: str,
    post_id: str,
    account: Row,
    status: TargetStatus,
    *,
    next_attempt_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """A new target's row, with every column the insert names."""
    return {
        "id": new_id("tgt"),
        "tenant_id": tenant_id,
        "post_id": post_id,
        "account_id": account["id"],
        "platform": account["platform"],
        "status": status.value,
        "attempts": 0,
        "transient_errors": 0,
        "next_attempt_at": next_attempt_at,
        "session": {},
        "created_at": now,
        "updated_at": now,
        # executemany takes its columns from the first row: give every row every key.
        "error_kind": None,
        "error_code": None,
        "error_message": None,
        "error_raw": None,
        "external_id": None,
        "external_url": None,
        "published_at": None,
        "fit": None,
    }


@dataclass(frozen=True)
class CreatedPost:
    """A new post as written (post and target rows) and the soft-limit warnings its
    creation crossed."""

    post: Row
    targets: list[Row]
    usage_warnings: tuple[metering.UsageWarning, ...] = ()

    @property
    def post_id(self) -> str:
        """The new post's id."""
        return str(self.post["id"])


def create_post(
    svc: Services,
    *,
    tenant_id: str,
    mode: Mode,
    body: PostCreate,
    key_id: str = "",
) -> CreatedPost:
    """Create a post with one target per destination and enqueue its publish jobs.

    The post is counted against the `posts` quota in the same transaction: past the hard
    limit it raises QuotaExceeded (402) and nothing is written.
    """
    with svc.db.write() as conn:
        return write_post(svc, conn, tenant_id=tenant_id, mode=mode, body=body, key_id=key_id)


def write_post(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    mode: Mode,
    body: PostCreate,
    key_id: str = "",
) -> CreatedPost:
    """`create_post` inside the caller's write transaction (which an error must roll back),
    so that the API records the request's idempotency key in the same commit."""
    now = svc.clock.now()
    plan = check_post(conn, tenant_id=tenant_id, mode=mode, body=body, now=now, hold_media=True)
    fitting = sum(t.fitting.seconds for t in plan.targets if t.fitting is not None)
    if fitting:
        # Variants are rendered work: refused up front (402) when the month has no room.
        processing.check_processing(
            conn, tenant_id=tenant_id, key_id=key_id or TENANT_TOTAL, seconds=fitting, now=now
        )
    publish_at = plan.publish_at
    post_id = new_id("post")
    initial = TargetStatus.SCHEDULED if publish_at else TargetStatus.QUEUED
    rows: list[dict[str, Any]] = []
    refused = False
    for target in plan.targets:
        violations = target.violations
        row = target_row(
            tenant_id, post_id, target.account, initial, next_attempt_at=publish_at, now=now
        )
        if target.fitting is not None and plan.media_id is not None:
            row["fit"] = target.fitting.row(plan.media_id, new_id("med"))
        if violations:
            refused = True
            row.update(
                status=TargetStatus.FAILED.value,
                next_attempt_at=None,
                error_kind=ErrorKind.PERMANENT.value,
                error_code=violations[0].code,
                error_message="; ".join(v.message for v in violations),
                error_raw={
                    "violations": [{"code": v.code, "message": v.message} for v in violations]
                },
            )
        rows.append(row)
    post_row: Row = {
        "id": post_id,
        "tenant_id": tenant_id,
        "media_id": body.media_ids[0] if body.media_ids else plan.media_id,
        "media_ids": body.media_ids,
        "auto_fit": body.auto_fit,
        "text": plan.text,
        "overrides": body.overrides,
        "publish_at": publish_at,
        "timezone": body.timezone,
        "status": (PostStatus.SCHEDULED if publish_at else PostStatus.PUBLISHING).value,
        "mode": mode.value,
        "created_at": now,
        "updated_at": now,
    }
    # The inserts go out together (one round trip on PostgreSQL) unless a refused target
    # needs the post's status recomputed, which reads what was just written.
    with nullcontext() if refused else pipelined(conn):
        posts.insert_post(conn, post_row, rows)
        ledger.append_event(
            conn,
            tenant_id=tenant_id,
            post_id=post_id,
            event_type="post_scheduled" if publish_at else "post_created",
            now=now,
            data={
                "targets": [r["id"] for r in rows],
                "publish_at": publish_at and publish_at.isoformat(),
                # Publishing is metered per key too; the worker reads the key from here.
                "key_id": key_id or None,
            },
        )
        queued: list[str] = []
        for row in rows:
            if row["status"] == TargetStatus.FAILED.value:
                ledger.append_event(
                    conn,
                    tenant_id=tenant_id,
                    post_id=post_id,
                    target_id=row["id"],
                    account_id=row["account_id"],
                    event_type="publish_failed",
                    now=now,
                    data={
                        "platform": row["platform"],
                        "error_kind": "permanent",
                        "code": row["error_code"],
                        "message": row["error_message"],
                    },
                )
                continue
            queued.append(row["id"])
        enqueue_publishes(svc.jobs, conn, queued, publish_at or now)
        fit.start_fits(svc.jobs, conn, rows, now)
        if refused:
            events.emit_post(conn, post_row, "post.created", now, targets=rows)
            refresh_post_status(conn, tenant_id, post_id, now)
            post_row["status"] = rollup(r["status"] for r in rows).value
            if post_row["status"] == PostStatus.SCHEDULED.value:
                events.emit_post(conn, post_row, "post.scheduled", now, targets=rows)
        else:
            # The same snapshot for both: one statement.
            scheduled = post_row["status"] == PostStatus.SCHEDULED.value
            created = ["post.created", *(["post.scheduled"] if scheduled else [])]
            events.emit_post(conn, post_row, created, now, targets=rows)
    # Last: the tenant's counter row stays locked until commit, so hold it briefly.
    warnings = metering.meter(
        conn, tenant_id=tenant_id, key_id=key_id, amounts={metering.POSTS: 1}, now=now
    )
    # The response is built from what was just written: no read-back round trip.
    return CreatedPost(post_row, rows, tuple(warnings))


def validate_post(
    svc: Services,
    *,
    tenant_id: str,
    mode: Mode,
    body: PostCreate,
    described: MediaInfo | None = None,
    key_id: str = "",
) -> PostPlan:
    """A dry run of `create_post`: the same checks, then whether the quotas leave room for
    the post (and for the upload of `described` media), writing nothing at all."""
    now = svc.clock.now()
    with svc.db.read() as conn:
        plan = check_post(
            conn, tenant_id=tenant_id, mode=mode, body=body, now=now, described=described
        )
        amounts = {metering.POSTS: 1}
        if described is not None:
            amounts.update(
                metering.upload_amounts(described.size_bytes, described.duration_seconds)
            )
        for metric, amount in amounts.items():
            metering.check_room(
                conn, tenant_id=tenant_id, metric=metric, amount=amount, now=now, key_id=key_id
            )
    return plan


def cancel_post(svc: Services, *, tenant_id: str, post_id: str) -> list[str]:
    """Cancel every target that has not reached its irreversible step; returns their ids."""
    now = svc.clock.now()
    cancellable = [s.value for s in TargetStatus if s.cancellable]
    with svc.db.write() as conn:
        post = posts.get_post(conn, tenant_id, post_id)
        if post is None:
            raise NotFound(f"no post {post_id!r}")
        cancelled = posts.cancel_targets(conn, post_id, cancellable, now)
        if not cancelled and post["status"] != PostStatus.CANCELLED.value:
            raise Conflict(
                "nothing left to cancel: every target is already publishing or finished",
                code="not_cancellable",
            )
        for target_id in cancelled:
            ledger.append_event(
                conn,
                tenant_id=tenant_id,
                post_id=post_id,
                target_id=target_id,
                event_type="publish_cancelled",
                now=now,
                data={},
            )
        refresh_post_status(conn, tenant_id, post_id, now)
    return cancelled
