"""Monthly usage metering and quotas, counted in the transaction of the thing counted.

Counters exist per (tenant, API key) and per tenant (key_id ''), per calendar month in UTC
(`YYYY-MM`). Quotas apply to the tenant total: a hard limit refuses the request that would
pass it (`QuotaExceeded`, 402) before anything is created; a soft limit makes the response
carry an `X-Usage-Warning` header and appends one `usage.threshold` ledger event per metric
and month.

`media_minutes` (minutes of media uploaded), `processing_minutes` (minutes of source video
the clip studio rendered or scanned for highlights) and `transcription_minutes` (minutes of
audio sent to the transcription API) are stored as integer milliseconds and shown as minutes
with two decimals; their quotas are given in whole minutes. Every other metric is a plain
count (bytes for `bytes_uploaded`; `renders` counts clip renders asked for; `llm_tokens` the
prompt and completion tokens the LLM judge and writer spent).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.bounds import INT64_MAX
from crosspost.domain.enums import Mode
from crosspost.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from crosspost.store import ledger, tenants
from crosspost.store import usage as store
from crosspost.store.rows import Row
from crosspost.webhooks import outbox

POSTS = "posts"
POSTS_PUBLISHED = "posts_published"
TARGETS_PUBLISHED = "targets_published"
MEDIA_MINUTES = "media_minutes"
BYTES_UPLOADED = "bytes_uploaded"
API_CALLS = "api_calls"
EXPORTS = "exports"
PROCESSING_MINUTES = "processing_minutes"
RENDERS = "renders"
TRANSCRIPTION_MINUTES = "transcription_minutes"
LLM_TOKENS = "llm_tokens"
METRICS = (
    POSTS,
    POSTS_PUBLISHED,
    TARGETS_PUBLISHED,
    MEDIA_MINUTES,
    BYTES_UPLOADED,
    API_CALLS,
    EXPORTS,
    PROCESSING_MINUTES,
    RENDERS,
    TRANSCRIPTION_MINUTES,
    LLM_TOKENS,
)

# Metrics whose hard limit can refuse a request. Publishing is never refused midway (a post
# already accepted is a promise); limit `posts` to bound what gets published.
HARD_LIMITED = frozenset(
    {
        POSTS,
        MEDIA_MINUTES,
        BYTES_UPLOADED,
        API_CALLS,
        EXPORTS,
        PROCESSING_MINUTES,
        RENDERS,
        TRANSCRIPTION_MINUTES,
        LLM_TOKENS,
    }
)
# Metrics counted in milliseconds, shown and limited in minutes.
MINUTE_METRICS = frozenset({MEDIA_MINUTES, PROCESSING_MINUTES, TRANSCRIPTION_MINUTES})

THRESHOLD_EVENT = "usage.threshold"
WARNING_HEADER = "X-Usage-Warning"
_MS_PER_MINUTE = 60_000
# Minute limits are whole minutes compared with a BIGINT of milliseconds.
MAX_MINUTES_LIMIT = INT64_MAX // _MS_PER_MINUTE
_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def period_of(when: datetime) -> str:
    """The calendar month (UTC) of an aware time, as `YYYY-MM`."""
    return when.astimezone(UTC).strftime("%Y-%m")


def parse_period(text: str) -> str:
    """Validate a `YYYY-MM` period; InvalidInput (422) with an example otherwise."""
    match = _PERIOD.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise InvalidInput(
            f"period {text!r} is not a month; use YYYY-MM, e.g. 2026-11",
            code="invalid_period",
        )
    return f"{match.group(1)}-{match.group(2)}"


def next_period(period: str) -> str:
    """The month after `period`."""
    year, month = (int(p) for p in period.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def minutes_to_ms(minutes: float) -> int:
    """A duration in minutes as the integer milliseconds the minute metrics count."""
    return round(minutes * _MS_PER_MINUTE)


def public_value(metric: str, raw: int) -> int | float:
    """A counter as users read it (minutes with two decimals for the minute metrics)."""
    if metric in MINUTE_METRICS:
        return round(raw / _MS_PER_MINUTE, 2)
    return raw


def _raw_limit(metric: str, limit: int) -> int:
    return limit * _MS_PER_MINUTE if metric in MINUTE_METRICS else limit


def check_metric(metric: str) -> str:
    """Refuse an unknown metric name, listing the valid ones."""
    if metric not in METRICS:
        raise InvalidInput(
            f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}",
            code="unknown_metric",
        )
    return metric


def upload_amounts(size_bytes: int, duration_seconds: float | None) -> dict[str, int]:
    """What uploading a file counts: its bytes and its minutes (raw units)."""
    return {
        BYTES_UPLOADED: size_bytes,
        MEDIA_MINUTES: minutes_to_ms((duration_seconds or 0.0) / 60),
    }


@dataclass(frozen=True)
class UsageWarning:
    """A tenant total (or a key's, with `key_id`) at or past its soft limit after this
    request."""

    metric: str
    used: int | float
    soft_limit: int
    period: str
    key_id: str | None = None

    def header(self) -> str:
        """This warning as an `X-Usage-Warning` element."""
        whose = f"key {self.key_id} soft limit" if self.key_id else "soft limit"
        return f"{self.metric} {self.used}/{self.soft_limit} ({whose}) for {self.period}"


def warning_header(warnings: Sequence[UsageWarning]) -> dict[str, str]:
    """The response headers announcing soft-limit warnings (none when there are none)."""
    if not warnings:
        return {}
    return {WARNING_HEADER: ", ".join(w.header() for w in warnings)}


def meter(
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    amounts: Mapping[str, int],
    now: datetime,
    enforce: bool = True,
) -> list[UsageWarning]:
    """Count `amounts` (raw units) in the caller's transaction for the month of `now`.

    With `enforce`, a hard limit that an amount would pass — the tenant's or the key's,
    the stricter refusing first — raises QuotaExceeded; the caller's transaction must then
    roll back, so the refused request leaves nothing.
    """
    period = period_of(now)
    warnings: list[UsageWarning] = []
    key_quotas: dict[str, Row] = {}
    # Tenant totals in metric order before any key row: one lock order for every writer.
    for metric in sorted(amounts):
        amount = amounts[metric]
        if amount <= 0:
            continue
        check_metric(metric)
        quota, key_quota = store.get_quotas(conn, tenant_id, metric, key_id)
        if key_quota is not None:
            key_quotas[metric] = key_quota
        used = _add(conn, tenant_id, store.TENANT_TOTAL, period, metric, amount,
                    quota if enforce else None)  # fmt: skip
        warning = _soft_check(conn, tenant_id, period, metric, used, quota, now)
        if warning is not None:
            warnings.append(warning)
    if key_id == store.TENANT_TOTAL:
        return warnings
    rows = [_counter(tenant_id, key_id, period, m, v) for m, v in sorted(amounts.items()) if v > 0]
    if not key_quotas:
        store.add(conn, rows)
        return warnings
    # One counter at a time, still in metric order, so a key's limit can refuse.
    for row in rows:
        metric, key_quota = row["metric"], key_quotas.get(row["metric"])
        used = _add(conn, tenant_id, key_id, period, metric, row["value"],
                    key_quota if enforce else None)  # fmt: skip
        warning = _soft_check(conn, tenant_id, period, metric, used, key_quota, now, key_id)
        if warning is not None:
            warnings.append(warning)
    return warnings


def _add(
    conn: Connection,
    tenant_id: str,
    key_id: str,
    period: str,
    metric: str,
    amount: int,
    quota: Row | None,
) -> int:
    """Add to one counter under `quota`'s hard limit (none when None); its new value."""
    hard = quota["hard_limit"] if quota is not None and metric in HARD_LIMITED else None
    used = store.add_one(
        conn,
        tenant_id=tenant_id,
        key_id=key_id,
        period=period,
        metric=metric,
        amount=amount,
        limit=None if hard is None else _raw_limit(metric, int(hard)),
    )
    if used is None:
        assert hard is not None  # only a limit refuses
        current = store.get_value(
            conn, tenant_id=tenant_id, key_id=key_id, period=period, metric=metric
        )
        raise exceeded(metric, int(hard), current, period, amount, key_id=key_id)
    return used


def exceeded(
    metric: str,
    hard_limit: int,
    used_raw: int,
    period: str,
    amount: int,
    *,
    key_id: str = store.TENANT_TOTAL,
) -> QuotaExceeded:
    """The 402 problem for a hard limit reached (`quota`, `scope` tenant or key, `key_id`,
    `limit`, `used`, `period`)."""
    used = public_value(metric, used_raw)
    asked = public_value(metric, amount)
    whose, where = (
        (f"quota of key {key_id}", f"PUT /v1/usage/quotas with key_id {key_id}")
        if key_id
        else ("quota of the tenant", "PUT /v1/usage/quotas")
    )
    return QuotaExceeded(
        f"the monthly {metric} {whose} does not allow this: {used} of {hard_limit} used in "
        f"{period}, this request needs {asked} more; wait until {next_period(period)}-01 "
        f"(UTC) or raise the limit with {where}",
        quota=metric,
        scope="key" if key_id else "tenant",
        **({"key_id": key_id} if key_id else {}),
        limit=hard_limit,
        used=used,
        period=period,
    )


def _soft_check(
    conn: Connection,
    tenant_id: str,
    period: str,
    metric: str,
    used_raw: int,
    quota: Row | None,
    now: datetime,
    key_id: str = store.TENANT_TOTAL,
) -> UsageWarning | None:
    soft = quota["soft_limit"] if quota is not None else None
    if soft is None or used_raw < _raw_limit(metric, int(soft)):
        return None
    used = public_value(metric, used_raw)
    # The conditional update makes exactly one writer of the month append the event.
    if (
        quota is not None
        and quota["warned_period"] != period
        and store.claim_warning(conn, tenant_id, metric, period, key_id)
    ):
        data = {
            "metric": metric,
            "period": period,
            "used": used,
            "soft_limit": int(soft),
            "hard_limit": quota["hard_limit"],
            **({"key_id": key_id} if key_id else {}),
        }
        ledger.append_event(
            conn, tenant_id=tenant_id, event_type=THRESHOLD_EVENT, now=now, data=data
        )
        # Quotas belong to the tenant, not to a mode: its test and live endpoints both hear.
        for mode in Mode:
            outbox.emit(
                conn,
                tenant_id=tenant_id,
                mode=mode.value,
                event_type=THRESHOLD_EVENT,
                data=data,
                now=now,
            )
    return UsageWarning(metric, used, int(soft), period, key_id or None)


def check_room(
    conn: Connection,
    *,
    tenant_id: str,
    metric: str,
    amount: int,
    now: datetime,
    key_id: str = store.TENANT_TOTAL,
) -> None:
    """Refuse early (before any work) when `amount` alone cannot fit under the tenant's or
    the key's hard limit.

    Only a pre-check: the atomic count in `meter` remains the one that decides.
    """
    if metric not in HARD_LIMITED:
        return
    period = period_of(now)
    for quota in store.get_quotas(conn, tenant_id, metric, key_id):
        if quota is None or quota["hard_limit"] is None:
            continue
        whose = quota["key_id"]
        used = store.get_value(
            conn, tenant_id=tenant_id, key_id=whose, period=period, metric=metric
        )
        if used + amount > _raw_limit(metric, int(quota["hard_limit"])):
            raise exceeded(metric, int(quota["hard_limit"]), used, period, amount, key_id=whose)


@dataclass(frozen=True)
class HardLimitReached:
    """A tenant whose api_calls total reached its hard limit in `period`."""

    limit: int
    used: int
    period: str


def count_api_calls(
    conn: Connection,
    calls: Mapping[tuple[str, str, str], int],
    now: datetime,
    *,
    also_check: Iterable[str] = (),
) -> dict[str, HardLimitReached | None]:
    """Add API calls per (tenant, key, period) in the caller's transaction.

    Calls are counted after they were served, so they are never refused here; instead this
    returns, per tenant counted (and per tenant in `also_check`), whether this month's total
    has reached its hard limit (for the API to refuse further calls), and appends the
    soft-limit event when crossed.
    """
    totals: Counter[tuple[str, str]] = Counter()
    rows: list[dict[str, Any]] = []
    for (tenant_id, key_id, period), count in calls.items():
        totals[(tenant_id, period)] += count
        if key_id != store.TENANT_TOTAL:
            rows.append(_counter(tenant_id, key_id, period, API_CALLS, count))
    rows += [_counter(t, store.TENANT_TOTAL, p, API_CALLS, n) for (t, p), n in totals.items()]
    store.add(conn, sorted(rows, key=store.lock_order))
    period = period_of(now)
    tenants = sorted({t for (t, _) in totals} | set(also_check))
    used = store.totals(conn, tenants, period, API_CALLS)
    reached: dict[str, HardLimitReached | None] = dict.fromkeys(tenants)
    for quota in store.quotas_on(conn, tenants, API_CALLS):
        tenant_id = quota["tenant_id"]
        total = used.get(tenant_id, 0)
        _soft_check(conn, tenant_id, period, API_CALLS, total, quota, now)
        hard = quota["hard_limit"]
        if hard is not None and total >= hard:
            reached[tenant_id] = HardLimitReached(int(hard), total, period)
    return reached


def _counter(tenant_id: str, key_id: str, period: str, metric: str, value: int) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "key_id": key_id,
        "period": period,
        "metric": metric,
        "value": value,
    }


# -- reports -----------------------------------------------------------------------------


def usage_report(conn: Connection, tenant_id: str, period: str) -> dict[str, Any]:
    """A tenant's usage in a month: totals, per key, and quotas with what they used."""
    rows = store.counters_for(conn, tenant_id, period)
    tenant: dict[str, int | float] = dict.fromkeys(METRICS, 0)
    keys: dict[str, dict[str, int | float]] = {}
    for row in rows:
        value = public_value(row["metric"], int(row["value"]))
        if row["key_id"] == store.TENANT_TOTAL:
            tenant[row["metric"]] = value
        else:
            keys.setdefault(row["key_id"], dict.fromkeys(METRICS, 0))[row["metric"]] = value
    return {
        "period": period,
        "tenant": tenant,
        "keys": [{"key_id": k, "metrics": m} for k, m in sorted(keys.items())],
        "quotas": _quotas(conn, tenant_id, tenant, keys),
    }


def quota_report(conn: Connection, tenant_id: str, period: str) -> list[dict[str, Any]]:
    """The tenant's quotas and its keys', each with what its metric used in `period`."""
    return list(usage_report(conn, tenant_id, period)["quotas"])


def _quotas(
    conn: Connection,
    tenant_id: str,
    tenant: Mapping[str, int | float],
    keys: Mapping[str, Mapping[str, int | float]],
) -> list[dict[str, Any]]:
    return [
        {
            "metric": q["metric"],
            "key_id": q["key_id"] or None,
            "set_by": q["set_by"],
            "soft_limit": q["soft_limit"],
            "hard_limit": q["hard_limit"],
            "used": (keys.get(q["key_id"], {}) if q["key_id"] else tenant).get(q["metric"], 0),
        }
        for q in store.quotas_for(conn, tenant_id)
    ]


def set_quota(
    conn: Connection,
    *,
    tenant_id: str,
    metric: str,
    soft_limit: int | None,
    hard_limit: int | None,
    key_id: str | None = None,
    by_operator: bool = False,
) -> None:
    """Replace a tenant's quota on a metric, or one key's with `key_id` (both limits None
    removes it). A quota the operator set (`by_operator`) the tenant cannot change."""
    check_metric(metric)
    ceiling = MAX_MINUTES_LIMIT if metric in MINUTE_METRICS else INT64_MAX
    for name, value in (("soft_limit", soft_limit), ("hard_limit", hard_limit)):
        if value is not None and not 0 <= value <= ceiling:
            unit = " minutes (counted in milliseconds)" if metric in MINUTE_METRICS else ""
            raise InvalidInput(
                f"{name} must be a whole number from 0 to {ceiling}{unit} for {metric}",
                code="invalid_quota",
            )
    if hard_limit is not None and metric not in HARD_LIMITED:
        raise InvalidInput(
            f"{metric} takes only a soft limit (publishing an accepted post is never refused); "
            f"set a hard limit on `posts` to bound what gets published",
            code="invalid_quota",
        )
    if soft_limit is not None and hard_limit is not None and soft_limit > hard_limit:
        raise InvalidInput(
            f"soft_limit {soft_limit} is above hard_limit {hard_limit}; the soft limit warns "
            "before the hard one refuses, so make it lower",
            code="invalid_quota",
        )
    key = _quota_key(conn, tenant_id, metric, key_id)
    current = store.get_quota(conn, tenant_id, metric, key)
    if current is not None and current["set_by"] == "operator" and not by_operator:
        raise Forbidden(
            f"the server's operator set this {metric} quota; only they can change it",
            code="quota_set_by_operator",
        )
    if soft_limit is None and hard_limit is None:
        store.delete_quota(conn, tenant_id, metric, key)
        return
    store.put_quota(
        conn, tenant_id=tenant_id, metric=metric, soft_limit=soft_limit, hard_limit=hard_limit,
        key_id=key, set_by="operator" if by_operator else "tenant",
    )  # fmt: skip


def _quota_key(conn: Connection, tenant_id: str, metric: str, key_id: str | None) -> str:
    """The counter key a quota applies to ('' for the tenant), the key checked to exist."""
    if not key_id:
        return store.TENANT_TOTAL
    if metric == API_CALLS:
        raise InvalidInput(
            "api_calls quotas apply to the tenant as a whole; a key's calls are bounded by "
            "its rate limits (tier or rate_limits on the key)",
            code="invalid_quota",
        )
    if tenants.get_api_key(conn, tenant_id, key_id) is None:
        raise NotFound(f"no API key {key_id!r} in this tenant; GET /v1/keys lists them")
    return key_id
