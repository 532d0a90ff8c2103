"""When a published target's metrics are fetched: at fixed delays after publishing (1 h, 6 h,
24 h, 72 h, 7 d by default), then every week until 90 days (all settings).

Pure functions of the publishing time and the settings, so the schedule can be tested and
explained without a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crosspost.config import Settings


@dataclass(frozen=True)
class MetricsSchedule:
    """Delays after publishing at which metrics are due."""

    after: tuple[timedelta, ...]
    every: timedelta
    until: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsSchedule:
        """The schedule the settings describe."""
        return cls(
            after=tuple(timedelta(hours=h) for h in settings.post_metrics_after_hours),
            every=timedelta(hours=settings.post_metrics_every_hours),
            until=timedelta(days=settings.post_metrics_for_days),
        )

    def delays(self) -> list[timedelta]:
        """Every due delay, in order: the fixed ones, then the repeats up to `until`."""
        fixed = [d for d in self.after if d <= self.until]
        if not fixed:
            return []
        out = list(fixed)
        at = fixed[-1] + self.every
        while at <= self.until:
            out.append(at)
            at += self.every
        return out

    def next_due(self, published_at: datetime, after: datetime) -> datetime | None:
        """The first due time strictly after `after` (a fetch that ran late does not make
        the ones it missed run back to back); None once the schedule is over."""
        for delay in self.delays():
            due = published_at + delay
            if due > after:
                return due
        return None

    def first_due(self, published_at: datetime) -> datetime | None:
        """The first fetch of a target published at `published_at`."""
        return self.next_due(published_at, published_at)
