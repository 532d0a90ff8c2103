"""The calendar: scheduled posts by month or week in the person's time zone; a post dragged
to another day keeps its time of day there and is rescheduled through the API (which says
when a post can no longer move)."""

from __future__ import annotations

import calendar as months
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.engine.services import Services
from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
# Posts drawn per day, earliest first; a busier day links to all of its posts.
_SHOWN = {"month": 3, "week": 12}
# Set by the dashboard's script from the browser's own zone.
ZONE_COOKIE = "cp_tz"


@dataclass(frozen=True)
class View:
    """What the calendar shows: its days (weeks of seven) and their UTC bounds."""

    kind: str
    first: date
    days: list[date]
    zone: ZoneInfo
    focus: date

    def bounds(self, day: date) -> tuple[str, str]:
        """The UTC instants `day` starts and ends at in the view's zone (ISO 8601)."""
        since = datetime.combine(day, time(), self.zone).astimezone(UTC)
        until = datetime.combine(day + timedelta(days=1), time(), self.zone).astimezone(UTC)
        return since.isoformat(), until.isoformat()

    def step(self, forward: bool) -> date:
        """The first day of the next (or previous) view."""
        if self.kind == "week":
            return self.focus + timedelta(days=7 if forward else -7)
        year, month = self.focus.year, self.focus.month + (1 if forward else -1)
        year, month = (
            (year + 1, 1) if month == 13 else (year - 1, 12) if month == 0 else (year, month)
        )
        return date(year, month, 1)


def zone_of(request: Request, asked: str) -> ZoneInfo:
    """The zone asked for, else the browser's (its cookie), else UTC."""
    for name in (asked, request.cookies.get(ZONE_COOKIE, "")):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def view_of(kind: str, day: date, zone: ZoneInfo) -> View:
    """The month (whole weeks, Monday first) or the week around `day`."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return View("week", start, [start + timedelta(days=i) for i in range(7)], zone, start)
    first = day.replace(day=1)
    weeks = months.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    return View("month", first, [d for week in weeks for d in week], zone, first)


async def scheduled(api: Api, view: View) -> dict[date, dict[str, Any]]:
    """Each day of the view: its count of posts and the first few (GET /v1/calendar)."""
    shown = _SHOWN[view.kind]
    found = await api.get("/v1/calendar", timezone=view.zone.key, per_day=shown, **{
        "from": view.days[0].isoformat(), "to": view.days[-1].isoformat()})  # fmt: skip
    return {date.fromisoformat(d["date"]): d for d in found["days"]}


def _day(request: Request, given: str, zone: ZoneInfo) -> date:
    try:
        return date.fromisoformat(given)
    except ValueError:
        svc: Services = request.app.state.services
        return svc.clock.now().astimezone(zone).date()


async def _page(
    request: Request, person: Person, api: Api, kind: str, day: str, tz: str, **values: Any
) -> Response:
    zone = zone_of(request, tz)
    view = view_of(kind, _day(request, day, zone), zone)
    by_day = await scheduled(api, view)
    status = values.pop("status", 200)
    return render(request, "calendar.html", status, person=person, view=view, by_day=by_day,
                  zone=zone.key, previous=view.step(False), next=view.step(True),
                  weekdays=list(months.day_abbr), **values)  # fmt: skip


@router.get("/app/calendar")
async def show(
    request: Request,
    view: Annotated[str, Query(max_length=5)] = "month",
    day: Annotated[str, Query(max_length=10)] = "",
    tz: Annotated[str, Query(max_length=64)] = "",
    moved: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The month (or week) of `day`, default today, in the browser's time zone."""
    person, api = await signed_in(request)
    kind = "week" if view == "week" else "month"
    return await _page(request, person, api, kind, day, tz, moved=moved)


@router.post("/app/calendar/reschedule")
async def reschedule(
    request: Request,
    post_id: Annotated[str, Form(max_length=40)],
    to_day: Annotated[str, Form(max_length=10)],
    view: Annotated[str, Form(max_length=5)] = "month",
    tz: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Move a post to another day at the same local time (PATCH /v1/posts/{id}); the
    calendar redrawn, with the API's reason when the post could not move."""
    person, api = await signed_in(request)
    zone = zone_of(request, tz)
    kind = "week" if view == "week" else "month"
    try:
        post = await api.get(f"/v1/posts/{post_id}")
        target = date.fromisoformat(to_day)
        if not post.get("publish_at"):
            raise Refused(409, {"detail": "this post is not scheduled; it cannot move"})
        at = datetime.fromisoformat(post["publish_at"]).astimezone(zone)
        moved = datetime.combine(target, at.time()).isoformat()
        await api.send("PATCH", f"/v1/posts/{post_id}", {"publish_at": moved, "timezone": zone.key})
    except ValueError:
        return await _page(request, person, api, kind, to_day, zone.key, status=422,
                           error=f"{to_day!r} is not a date (YYYY-MM-DD)")  # fmt: skip
    except Refused as refused:
        return await _page(request, person, api, kind, to_day, zone.key,
                           status=refused.status, error=refused.message)  # fmt: skip
    back = urlencode({"view": kind, "day": to_day, "tz": zone.key, "moved": post_id})
    return secure(RedirectResponse(f"/app/calendar?{back}", status_code=303))
