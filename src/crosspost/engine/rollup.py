"""A post's status, derived from its targets'.

Cancelled targets are set aside, and so are targets taken down after publishing (`deleted`)
while something of the post is still up: the status says how publishing went for what
remains. Once nothing that was published is still up, the post is `deleted`.
"""

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
    if not published and TargetStatus.DELETED in live:
        return PostStatus.DELETED
    remaining = [s for s in live if s is not TargetStatus.DELETED]
    if published == len(remaining):
        return PostStatus.PUBLISHED
    if published:
        return PostStatus.PARTIALLY_PUBLISHED
    return PostStatus.FAILED
