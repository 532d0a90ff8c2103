"""What `GET /v1/calendar` answers: a tenant's posts by the local day they publish on."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from crosspost.domain.enums import Platform, PostStatus, TargetStatus

EXCERPT = 100  # characters of a post's text a calendar entry carries


class CalendarTarget(BaseModel):
    """Where a post goes, and how it stands there."""

    platform: Platform
    status: TargetStatus


class CalendarPost(BaseModel):
    """A post as a calendar draws it: when, what (its text's first 100 characters), where."""

    id: str
    publish_at: datetime
    local_time: str = Field(description="The time of day in the calendar's zone, HH:MM.")
    status: PostStatus
    excerpt: str
    targets: list[CalendarTarget]


class CalendarDay(BaseModel):
    """One local day: how many posts publish on it, and the first `per_day` of them."""

    date: date
    total: int = Field(description="Posts publishing this day, shown or not.")
    posts: list[CalendarPost] = Field(description="The first `per_day` posts, earliest first.")


class Calendar(BaseModel):
    """Every day of [from, to] in the zone, busy or not."""

    timezone: str
    days: list[CalendarDay]
