"""auto_fit: which targets a render can rescue, and how the rendering is asked for.

A post with `auto_fit: true` whose single video breaks a platform's limits in ways a render
repairs (too long, wrong shape or size, a codec or container the platform refuses) does not
fail that target: the target records a *fit* (`targets.fit`: the aspect and longest duration
to render at, the rules that made it necessary, where it stands) and the studio's fit job
(`KIND`) renders the variant, which the publish run then uploads instead of the original.
Text rules, a video too short or a post of several media are never "fixed": those targets
fail as they would without auto_fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import MediaKind, Platform
from crosspost.domain.limits import MediaLimits
from crosspost.domain.renders import ASPECT_RATIOS
from crosspost.engine import publish_jobs
from crosspost.engine.services import Services
from crosspost.jobs import JobContext
from crosspost.jobs.store import JobStore
from crosspost.media.validate import MediaInfo, Violation
from crosspost.platforms.registry import client_for
from crosspost.store import ledger

KIND = "studio.fit.v1"
# How often a publish run looks again while its target's variant is being rendered (the fit
# job also brings the publish job forward the moment the variant is stored).
WAIT_SECONDS = 10.0
# What re-encoding to a platform's shape repairs (every render is H.264/AAC in MP4 at 30
# fps, at least 360 px on the shorter side, at most 1920 on the longer).
FIXABLE = frozenset(
    {
        "media_too_long",
        "media_too_large",
        "aspect_ratio_not_allowed",
        "resolution_not_allowed",
        "frame_rate_not_allowed",
        "codec_not_allowed",
        "container_not_allowed",
    }
)
PENDING, READY, FAILED = "pending", "ready", "failed"


def dedupe_key(target_id: str) -> str:
    """At most one fit job per target at a time."""
    return f"fit:{target_id}"


@dataclass(frozen=True)
class FitPlan:
    """The variant one target needs: its aspect, its longest duration (None: the whole
    video) and the violations it repairs."""

    aspect: str
    max_duration: float | None
    because: tuple[Violation, ...]
    seconds: float  # of video rendered: what `processing_minutes` will count

    def row(self, source_media_id: str, output_media_id: str) -> dict[str, Any]:
        """The target's `fit` column for this plan, not rendered yet."""
        return {
            "status": PENDING,
            "aspect": self.aspect,
            "max_duration": self.max_duration,
            "because": [{"code": v.code, "message": v.message} for v in self.because],
            "source_media_id": source_media_id,
            "media_id": output_media_id,
            "error": None,
        }


def plan_fit(
    limits: MediaLimits, info: MediaInfo | None, violations: Sequence[Violation]
) -> FitPlan | None:
    """The variant that would satisfy `limits`, or None when a render cannot repair every
    one of `violations` (or there is nothing to repair)."""
    if not violations or info is None or info.kind is not MediaKind.VIDEO:
        return None
    if any(v.code not in FIXABLE for v in violations):
        return None
    aspect = _aspect(limits, info)
    if aspect is None:
        return None
    longest = limits.max_duration_seconds
    too_long = longest is not None and (info.duration_seconds or 0.0) > longest
    # A hair under the limit: the muxed duration may round up by a frame.
    cap = math.floor(longest * 10) / 10 - 0.1 if too_long and longest is not None else None
    duration = info.duration_seconds or 0.0
    return FitPlan(aspect, cap, tuple(violations), min(duration, cap or duration))


def _aspect(limits: MediaLimits, info: MediaInfo) -> str | None:
    """The allowed aspect nearest the video's own (on a log scale: 2:1 is as far from 1:1 as
    1:2); None when the platform allows none of them."""
    low, high = limits.min_aspect or 0.0, limits.max_aspect or math.inf
    allowed = {a: r for a, r in ASPECT_RATIOS.items() if low <= r <= high}
    if not allowed:
        return None
    if info.width and info.height:
        own = info.width / info.height
        # Rounded: 4:3 is exactly as far from 1:1 as from 16:9, and float noise must not
        # choose between them (the first in ASPECT_RATIOS' order does).
        return min(allowed, key=lambda a: round(abs(math.log(allowed[a] / own)), 9))
    return next(iter(allowed))


def event_data(platform: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """A fit ledger event's data: the platform, the variant's shape and why it is made."""
    return {
        "platform": platform,
        "aspect": state["aspect"],
        "max_duration": state["max_duration"],
        "because": [v["code"] for v in state["because"]],
        "media_id": state["media_id"],
    }


def fit_for(
    platform: Platform,
    info: MediaInfo | None,
    items: Sequence[MediaInfo],
    violations: Sequence[Violation],
) -> FitPlan | None:
    """The variant that repairs every one of `violations` on `platform`, if one can."""
    if items or info is None:
        return None  # several media: a carousel is never re-rendered
    return plan_fit(client_for(platform).limits_for(info.kind), info, violations)


def media_for(state: Mapping[str, Any] | None, own: str | None) -> str | None:
    """The media a target publishes: its variant once ready, else the post's own."""
    return state["media_id"] if state is not None and state["status"] == READY else own


def is_waiting(fit: Mapping[str, Any] | None) -> bool:
    """True while a target's variant is still to be rendered."""
    return fit is not None and fit.get("status") == PENDING


def start_fits(
    jobs: JobStore, conn: Connection, rows: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """In the caller's transaction: the fit job of every new target row that has a fit,
    queued now (also for a later publish_at, so the variant is ready when it is due), and
    its `fit_queued` ledger event."""
    fitted = [row for row in rows if row["fit"] is not None]
    if not fitted:
        return
    jobs.enqueue_many(
        conn, KIND, {dedupe_key(r["id"]): {"target_id": r["id"]} for r in fitted}, run_at=now
    )
    for row in fitted:
        ledger.append_event(
            conn,
            tenant_id=row["tenant_id"],
            post_id=row["post_id"],
            target_id=row["id"],
            account_id=row["account_id"],
            event_type="fit_queued",
            now=now,
            data=event_data(row["platform"], row["fit"]),
        )


def enqueue_fit(jobs: JobStore, conn: Connection, target_id: str, run_at: datetime) -> None:
    """Queue one target's fit job (a no-op while one is queued or running)."""
    jobs.enqueue(
        conn, KIND, {"target_id": target_id}, run_at=run_at, dedupe_key=dedupe_key(target_id)
    )


def await_variant(
    svc: Services, ctx: JobContext, target: Mapping[str, Any], post: Mapping[str, Any]
) -> datetime:
    """When a publish run of a target whose variant is not rendered yet looks again: its
    fit job is queued (again, after a retry) and the run waits for it."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        enqueue_fit(svc.jobs, conn, target["id"], now)
    later = now + timedelta(seconds=WAIT_SECONDS)
    publish_at: datetime | None = post["publish_at"]
    return max(later, publish_at) if publish_at is not None else later


def variant_ready(
    jobs: JobStore, conn: Connection, target_id: str, publish_at: datetime | None, now: datetime
) -> None:
    """In the fit job's closing transaction: the target's publish job runs when the post is
    due, at once if it is already (a waiting job is brought forward, a missing one queued)."""
    run_at = max(publish_at, now) if publish_at is not None else now
    key = publish_jobs.dedupe_key(target_id)
    jobs.move(conn, [key], run_at)
    publish_jobs.enqueue_publish(jobs, conn, target_id, run_at)
