"""Metrics rows to what the API shows: a post's targets with their series, and the report of
how a tenant's posts performed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.metrics import (
    MetricCounts,
    MetricSample,
    MetricsFetchError,
    MetricsGroupBy,
    MetricsSchedulePublic,
    PostAnalytics,
    PostAnalyticsGroup,
    PostMetrics,
    TargetMetrics,
)
from crosspost.errors import Conflict, InvalidInput, NotFound
from crosspost.store import post_metrics, posts
from crosspost.usage.analytics_report import parse_instant

DEFAULT_RANGE = timedelta(days=90)
MAX_RANGE = timedelta(days=366)


def load_post_metrics(conn: Connection, tenant_id: str, post_id: str) -> PostMetrics:
    """A tenant's post's metrics; 404 for another's or none, 409 when nothing of it has
    been published yet."""
    if posts.get_post(conn, tenant_id, post_id) is None:
        raise NotFound(f"no post {post_id!r}")
    rows = post_metrics.of_post(conn, post_id)
    if not rows:
        raise Conflict(
            f"nothing of post {post_id} has been published yet: a target's metrics are "
            "fetched from an hour after it is published",
            code="not_published",
        )
    targets = {t["id"]: t for t in posts.targets_of(conn, [post_id])[post_id]}
    series = post_metrics.samples(conn, [r["target_id"] for r in rows])
    shown = [_target(r, targets[r["target_id"]], series[r["target_id"]]) for r in rows]
    latest = [t.latest for t in shown if t.latest is not None]
    return PostMetrics(post_id=post_id, totals=_sum(latest), targets=shown)


def _target(
    row: Mapping[str, Any], target: Mapping[str, Any], samples: Sequence[Any]
) -> TargetMetrics:
    published = row["published_at"]
    series = [_sample(s, published) for s in samples]
    error = None
    if row["error_code"]:
        error = MetricsFetchError(
            kind=row["error_kind"],
            code=row["error_code"],
            message=row["error_message"],
            failures=row["failures"],
        )
    return TargetMetrics(
        target_id=row["target_id"],
        platform=row["platform"],
        account_id=row["account_id"],
        status=target["status"],
        external_url=target["external_url"],
        published_at=published,
        latest=series[-1] if series else None,
        series=series,
        schedule=MetricsSchedulePublic(
            state=row["state"], fetches=row["fetches"], next_fetch_at=row["next_fetch_at"],
            stop_reason=row["stop_reason"], last_error=error,
        ),
    )  # fmt: skip


def _sample(row: Mapping[str, Any], published_at: datetime) -> MetricSample:
    return MetricSample(
        fetched_at=row["fetched_at"],
        age_seconds=max(0, int((row["fetched_at"] - published_at).total_seconds())),
        extra=dict(row["extra"] or {}),
        **{name: row[name] for name in post_metrics.COUNTS},
    )


def _sum(samples: Sequence[MetricCounts]) -> MetricCounts:
    extra: dict[str, int] = {}
    for sample in samples:
        for name, value in sample.extra.items():
            extra[name] = extra.get(name, 0) + value
    totals = {
        name: sum(v for s in samples if (v := getattr(s, name)) is not None)
        if any(getattr(s, name) is not None for s in samples)
        else None
        for name in post_metrics.COUNTS
    }
    return MetricCounts(extra=extra, **totals)


def resolve_window(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The publishing window [from, to) of a report: the last 90 days by default, a year at
    most."""
    until = parse_instant("to", end) if end else now
    since = parse_instant("from", start) if start else until - DEFAULT_RANGE
    if since >= until:
        raise InvalidInput(
            f"from ({since.isoformat()}) must be before to ({until.isoformat()})",
            code="invalid_time_range",
        )
    if until - since > MAX_RANGE:
        raise InvalidInput(
            f"the range is {(until - since).days} days; ask for 366 days at most",
            code="invalid_time_range",
        )
    return since, until


def post_analytics(
    conn: Connection,
    tenant_id: str,
    *,
    group_by: MetricsGroupBy,
    since: datetime,
    until: datetime,
    platform: str | None,
) -> PostAnalytics:
    """How the tenant's targets published in [since, until) performed, grouped."""
    rows = post_metrics.report(conn, tenant_id, group_by=group_by, since=since, until=until,
                               platform=platform)  # fmt: skip
    groups = [
        PostAnalyticsGroup(
            key=str(r["key"]),
            posts=r["posts"],
            targets=r["targets"],
            measured=int(r["measured"] or 0),
            **{name: int(r[name] or 0) for name in post_metrics.COUNTS},
        )
        for r in rows
    ]
    return PostAnalytics(group_by=group_by, from_=since, to=until, platform=platform,
                         groups=groups)  # fmt: skip
