"""A tenant's posts by the local day they publish on, for `GET /v1/calendar`.

Every post of the range is counted from two columns of an index; only the first `per_day`
of each day are read in full. So a month of a busy tenant costs what its cells show, not
what it holds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from crosspost.domain.calendar import EXCERPT, Calendar, CalendarDay, CalendarPost, CalendarTarget
from crosspost.errors import InvalidInput
from crosspost.store import posts
from crosspost.store.rows import Row

MAX_DAYS = 62  # two months and a bit: a month view's six weeks with room


def calendar(
    conn: Connection, tenant_id: str, first: date, last: date, zone: ZoneInfo, per_day: int
) -> Calendar:
    """The days `first`..`last` (inclusive) in `zone`, each with its count of posts and the
    first `per_day` of them; InvalidInput for a range backwards or over MAX_DAYS."""
    if last < first:
        raise InvalidInput(
            f"to ({last.isoformat()}) is before from ({first.isoformat()})",
            code="invalid_time_range",
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(
            f"the range is {(last - first).days + 1} days; ask for {MAX_DAYS} at most",
            code="invalid_time_range",
        )
    since = datetime.combine(first, time(), zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    by_day: dict[date, list[tuple[str, datetime]]] = {}
    for post_id, at in posts.scheduled_between(conn, tenant_id, since, until):
        local = at.astimezone(zone)
        by_day.setdefault(local.date(), []).append((post_id, local))
    shown = [post_id for day in by_day.values() for post_id, _ in day[:per_day]]
    found, targets = posts.summaries(conn, tenant_id, shown, EXCERPT)
    days: list[CalendarDay] = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        entries = by_day.get(day, [])
        days.append(CalendarDay(date=day, total=len(entries), posts=[
            _entry(found[post_id], local, targets[post_id])
            for post_id, local in entries[:per_day] if post_id in found
        ]))  # fmt: skip
    return Calendar(timezone=zone.key, days=days)


def _entry(row: Row, local: datetime, target_rows: list[Row]) -> CalendarPost:
    return CalendarPost.model_validate({
        "id": row["id"], "publish_at": local.astimezone(UTC), "local_time": local.strftime("%H:%M"),
        "status": row["status"], "excerpt": row["excerpt"] or "",
        "targets": [CalendarTarget.model_validate(t) for t in target_rows],
    })  # fmt: skip
