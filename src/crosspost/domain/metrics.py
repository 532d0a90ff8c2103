"""How posts performed, as the API shows it (`GET /v1/posts/{id}/metrics`,
`GET /v1/analytics/posts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crosspost.domain.enums import Platform, TargetStatus

MetricsGroupBy = Literal["platform", "account", "day"]


class MetricCounts(BaseModel):
    """Counts under crosspost's names; null where the platform does not report one."""

    views: int | None = Field(description="Views, plays or impressions, as the platform counts.")
    likes: int | None = Field(description="Likes or reactions.")
    comments: int | None = Field(description="Comments or replies.")
    shares: int | None = Field(description="Shares, reposts or retweets.")
    extra: dict[str, int] = Field(
        default_factory=dict,
        description="The platform's other counts: reach, saves, favorites, quotes, bookmarks, "
        "downloads, clicks, interactions.",
    )


class MetricSample(MetricCounts):
    """What the platform reported at one fetch."""

    fetched_at: datetime
    age_seconds: int = Field(ge=0, description="How long after publishing it was fetched.")


class MetricsFetchError(BaseModel):
    """Why the last due fetch did not happen (it is tried again; the counts stay as they were)."""

    kind: str = Field(description="auth, rate_limited, quota, transient or permanent.")
    code: str | None
    message: str | None
    failures: int = Field(description="Failed tries of this fetch in a row.")


class MetricsSchedulePublic(BaseModel):
    """Where a target's metrics schedule stands."""

    state: Literal["pending", "scheduled", "finished", "stopped"] = Field(
        description="pending: being given its schedule; scheduled: fetched at `next_fetch_at`; "
        "finished: the schedule ran out; stopped: see `stop_reason`."
    )
    fetches: int = Field(description="Successful fetches so far.")
    next_fetch_at: datetime | None
    stop_reason: str | None = Field(
        description="deleted (taken down), gone_on_platform, account_disconnected, no_platform_id."
    )
    last_error: MetricsFetchError | None


class TargetMetrics(BaseModel):
    """One published target's counts: the latest, and every fetch."""

    target_id: str
    platform: Platform
    account_id: str
    status: TargetStatus
    external_url: str | None
    published_at: datetime
    latest: MetricSample | None = Field(description="The newest fetch; null before the first.")
    series: list[MetricSample] = Field(description="Every fetch, oldest first.")
    schedule: MetricsSchedulePublic


class PostMetrics(BaseModel):
    """How a post performed on each platform it was published to."""

    post_id: str
    totals: MetricCounts = Field(description="The latest counts of every target, summed.")
    targets: list[TargetMetrics]


class PostAnalyticsGroup(BaseModel):
    """The latest counts of the targets of one group, summed."""

    key: str = Field(description="The platform, the account id, or the UTC day (YYYY-MM-DD).")
    posts: int
    targets: int
    measured: int = Field(description="Targets fetched at least once (the others count 0).")
    views: int
    likes: int
    comments: int
    shares: int


class PostAnalytics(BaseModel):
    """How the posts published in [from, to) performed, by platform, account or day."""

    group_by: MetricsGroupBy
    from_: datetime = Field(alias="from")
    to: datetime
    platform: Platform | None
    groups: list[PostAnalyticsGroup]

    model_config = {"populate_by_name": True}
