"""A post's status, derived from its targets'."""

from __future__ import annotations

from collections.abc import Iterable

from crosspost.domain.enums import PostStatus, TargetStatus


def rollup(statuses: Iterable[str]) -> PostStatus:
    """The post status for a set of target statuses."""
    states = [TargetStatus(s) for s in statuses]
    if not states or all(s is TargetStatus.CANCELLED for s in states):
        return PostStatus.CANCELLED
    live = [s for s in states if s is not TargetStatus.CANCELLED]
    if not all(s.terminal for s in live):
        if all(s is TargetStatus.SCHEDULED for s in live):
            return PostStatus.SCHEDULED
        return PostStatus.PUBLISHING
    published = sum(s is TargetStatus.PUBLISHED for s in live)
    if published == len(live):
        return PostStatus.PUBLISHED
    if published:
        return PostStatus.PARTIALLY_PUBLISHED
    return PostStatus.FAILED
