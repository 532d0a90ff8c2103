"""Charts drawn on the server as SVG (no script): bars laid out here, drawn by a template."""

from __future__ import annotations

from dataclasses import dataclass

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
