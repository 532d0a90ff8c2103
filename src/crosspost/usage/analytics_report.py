"""API analytics over a time range, grouped by endpoint, status or key (or, for the
operator, tenant), with exact nearest-rank latency percentiles.

Percentiles are computed here rather than in SQL: SQLite has none, and one code path gives
the same answer on both databases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.analytics import AdminGroupBy, GroupBy
from crosspost.domain.bounds import TIME_RANGE, time_in_range
from crosspost.errors import InvalidInput
from crosspost.store import analytics as rows_store

DEFAULT_RANGE = timedelta(hours=24)
MAX_RANGE = timedelta(days=31)


def percentile(ordered: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile of an ascending, non-empty list."""
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def parse_instant(name: str, text: str) -> datetime:
    """An ISO 8601 date or time as aware UTC (no offset = UTC); InvalidInput otherwise."""
    cleaned = text.strip()
    if "T" in cleaned:
        # An unencoded `+01:00` in a query string arrives as a space.
        cleaned = cleaned.replace(" ", "+")
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            f"{name}={text!r} is not an ISO 8601 time; use e.g. 2026-11-01T00:00:00Z",
            code="invalid_time_range",
        ) from None
    if not time_in_range(value):
        raise InvalidInput(
            f"{name}={text!r} is out of range; give a time {TIME_RANGE}",
            code="invalid_time_range",
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def resolve_range(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The [from, to) range of a query: defaults to the last 24 h, at most 31 days."""
    until = parse_instant("to", end) if end else now
    since = parse_instant("from", start) if start else until - DEFAULT_RANGE
    if since >= until:
        raise InvalidInput(
            f"from ({since.isoformat()}) must be before to ({until.isoformat()})",
            code="invalid_time_range",
        )
    if until - since > MAX_RANGE:
        raise InvalidInput(
            f"the range is {(until - since).days} days; ask for 31 days at most (split longer "
            "ranges into several queries)",
            code="invalid_time_range",
        )
    return since, until


@dataclass
class _Group:
    requests: int = 0
    errors: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    latencies: list[float] = field(default_factory=list)

    def summary(self, name: str) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "group": name,
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": percentile(ordered, 50),
            "p95_ms": percentile(ordered, 95),
            "p99_ms": percentile(ordered, 99),
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
        }


def _group_name(group_by: GroupBy | AdminGroupBy, row: Any) -> str:
    if group_by == "endpoint":
        return f"{row.method} {row.endpoint}"
    if group_by == "status":
        return str(row.status)
    if group_by == "tenant":
        return str(row.tenant_id)
    return str(row.key_id or "")


def analytics_report(
    conn: Connection,
    tenant_ids: Iterable[str],
    since: datetime,
    until: datetime,
    group_by: GroupBy | AdminGroupBy,
) -> list[dict[str, Any]]:
    """One summary per group of the tenants' requests, most requested first: requests,
    errors (status >= 400), p50/p95/p99 latency in ms and bytes in and out."""
    groups: dict[str, _Group] = {}
    # Tenant by tenant: each read is a range of the (tenant_id, created_at) index.
    rows = (r for t in tenant_ids for r in rows_store.iter_range(conn, t, since, until))
    for row in rows:
        name = _group_name(group_by, row)
        group = groups.get(name)
        if group is None:
            group = groups[name] = _Group()
        group.requests += 1
        group.errors += row.status >= 400
        group.request_bytes += int(row.request_bytes)
        group.response_bytes += int(row.response_bytes)
        group.latencies.append(float(row.latency_ms))
    ranked = sorted(groups.items(), key=lambda item: (-item[1].requests, item[0]))
    return [group.summary(name) for name, group in ranked]
