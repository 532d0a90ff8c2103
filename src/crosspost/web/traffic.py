"""The analytics ranges a traffic view offers (the usage page, the operator's console)."""

from __future__ import annotations

from datetime import datetime, timedelta

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def chosen(over: str) -> str:
    """The range a picker asked for, or the default."""
    return over if over in RANGES else "24h"


def range_window(over: str, now: datetime) -> dict[str, str]:
    """The `from` and `to` of the analytics range a page's picker chose."""
    return {"from": (now - RANGES[chosen(over)]).isoformat(), "to": now.isoformat()}
