"""Charts drawn on the server as SVG (no script): bars laid out here, drawn by a template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT, GAP = 640, 160, 4


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its total and the part of it that failed, and where it is drawn."""

    label: str
    total: int
    failed: int
    x: float
    width: float
    height: float
    failed_height: float


def bars(series: list[tuple[str, int, int]]) -> list[Bar]:
    """(label, total, failed) laid out as bars across the chart, the tallest touching its top."""
    if not series:
        return []
    tallest = max(total for _, total, _ in series) or 1
    width = (WIDTH - GAP * (len(series) - 1)) / len(series)
    return [
        Bar(
            label,
            total,
            failed,
            x=i * (width + GAP),
            width=width,
            height=HEIGHT * total / tallest,
            failed_height=HEIGHT * failed / tallest,
        )
        for i, (label, total, failed) in enumerate(series)
    ]


def age(seconds: int) -> str:
    """How long after publishing, as a bar's label: hours under two days, then days."""
    return f"{seconds // 3600}h" if seconds < 48 * 3600 else f"{seconds // 86400}d"


def views_over_time(target: dict[str, Any]) -> list[Bar]:
    """A target's views at each fetch of its metrics (`TargetMetrics` of the API)."""
    return bars([(age(s["age_seconds"]), s["views"] or 0, 0) for s in target["series"]])
