"""Pacing before the 429: spend a platform's documented call budgets in the database, so
every worker in every process sees the same counts.

Each budget is an exact sliding window: a call is allowed when fewer than `calls` calls were
made in the last `per_seconds`. A step spends from all of its budgets or from none, and when
one is full the caller learns how long until it frees a slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crosspost.domain.enums import Mode, Platform
from crosspost.domain.limits import Rate
from crosspost.engine import events
from crosspost.engine.clients import build_client
from crosspost.engine.services import Services
from crosspost.store import pacing
from crosspost.store.db import Database


def budget_key(platform: Platform, account_id: str, rate: Rate) -> str:
    """The row a budget lives in: per account, or shared by the platform app."""
    scope = account_id if rate.per_account else "app"
    return f"{platform.value}:{scope}:{rate.bucket}"


@dataclass(frozen=True)
class Standing:
    """Where one budget stands now."""

    rate: Rate
    used: int
    remaining: int
    resets_at: float | None  # epoch seconds when the oldest spending leaves the window


def standing(
    db: Database, platform: Platform, account_id: str, rates: Sequence[Rate], now: float
) -> list[Standing]:
    """How much of each budget the account (or, for per-app ones, the platform app) has
    spent in its current window, and when room comes back."""
    keyed = {budget_key(platform, account_id, r): r for r in rates}
    with db.read() as conn:
        logs = pacing.read_budgets(conn, keyed)
    out: list[Standing] = []
    for key, rate in keyed.items():
        recent = sorted(e for e in logs.get(key, []) if e[0] > now - rate.per_seconds)
        used = int(sum(cost for _, cost in recent))
        resets = recent[0][0] + rate.per_seconds if recent else None
        out.append(Standing(rate, used, max(0, rate.limit - used), resets))
    return out


def account_budgets(svc: Services, account: Mapping[str, Any]) -> list[Standing]:
    """Where an account stands in every budget its platform's client spends from."""
    platform, mode = Platform(account["platform"]), Mode(account["mode"])
    rates = build_client(svc, platform, mode).declared_budgets()
    return standing(svc.db, platform, account["id"], rates, svc.clock.now().timestamp())


def report_exhausted(
    svc: Services, account: Mapping[str, Any], rates: Sequence[Rate], now: float
) -> list[str]:
    """After a reservation had to wait: send `account.quota_exhausted` once per run-out of
    each full budget; the names of the budgets reported."""
    platform = Platform(account["platform"])
    full = [
        s for s in standing(svc.db, platform, account["id"], rates, now)
        if s.remaining < s.rate.cost and s.resets_at is not None
    ]  # fmt: skip
    reported: list[str] = []
    with svc.db.write() as conn:
        for s in full:
            key = budget_key(platform, account["id"], s.rate)
            assert s.resets_at is not None
            if not pacing.mark_exhausted(conn, key, s.resets_at, now):
                continue
            reported.append(s.rate.bucket)
            events.emit_account(conn, account, "account.quota_exhausted", svc.clock.now(),
                                budget=budget_view(s))  # fmt: skip
    return reported


def budget_view(s: Standing) -> dict[str, Any]:
    """A budget's standing as the API and webhooks show it."""
    return {
        "name": s.rate.bucket,
        "scope": "account" if s.rate.per_account else "app",
        "limit": s.rate.limit,
        "window_seconds": s.rate.per_seconds,
        "used": s.used,
        "remaining": s.remaining,
        "resets_at": datetime.fromtimestamp(s.resets_at, UTC) if s.resets_at else None,
    }


def reserve(
    db: Database, platform: Platform, account_id: str, rates: Sequence[Rate], now: float
) -> float:
    """Spend every budget's cost and return 0, or spend nothing and return the seconds until
    all of them have room."""
    if not rates:
        return 0.0
    keyed = {budget_key(platform, account_id, r): r for r in rates}
    with db.write() as conn:
        logs = pacing.lock_budgets(conn, keyed)
        wait = 0.0
        kept: dict[str, list[list[float]]] = {}
        for key, rate in keyed.items():
            if rate.cost > rate.limit:
                raise ValueError(f"{key}: a call costing {rate.cost} never fits {rate.limit}")
            recent = sorted(e for e in logs.get(key, []) if e[0] > now - rate.per_seconds)
            kept[key] = recent
            excess = sum(cost for _, cost in recent) + rate.cost - rate.limit
            # Wait until enough of the oldest spending has left the window.
            for spent_at, cost in recent:
                if excess <= 0:
                    break
                excess -= cost
                wait = max(wait, spent_at + rate.per_seconds - now)
        if wait > 0:
            return wait
        pacing.store_budgets(
            conn, {key: [*log, [now, float(keyed[key].cost)]] for key, log in kept.items()}
        )
    return 0.0
