"""The post rollup status from its targets."""

from __future__ import annotations

import pytest

from crosspost.domain.enums import PostStatus
from crosspost.engine.rollup import rollup


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (["scheduled", "scheduled"], PostStatus.SCHEDULED),
        (["scheduled", "queued"], PostStatus.PUBLISHING),
        (["uploading", "published"], PostStatus.PUBLISHING),
        (["waiting", "failed"], PostStatus.PUBLISHING),
        (["needs_reauth", "published"], PostStatus.PUBLISHING),
        (["unconfirmed"], PostStatus.PUBLISHING),
        (["published", "published"], PostStatus.PUBLISHED),
        (["published", "failed"], PostStatus.PARTIALLY_PUBLISHED),
        (["published", "cancelled"], PostStatus.PUBLISHED),
        (["failed", "failed"], PostStatus.FAILED),
        (["failed", "cancelled"], PostStatus.FAILED),
        (["cancelled", "cancelled"], PostStatus.CANCELLED),
        ([], PostStatus.CANCELLED),
        # Taken down: set aside while something is still up, `deleted` once nothing is.
        (["published", "deleted"], PostStatus.PUBLISHED),
        (["published", "failed", "deleted"], PostStatus.PARTIALLY_PUBLISHED),
        (["deleted", "deleted"], PostStatus.DELETED),
        (["deleted", "failed"], PostStatus.DELETED),
        (["deleted", "cancelled"], PostStatus.DELETED),
        (["deleted", "uploading"], PostStatus.PUBLISHING),
    ],
)
def test_rollup(targets: list[str], expected: PostStatus) -> None:
    """Each combination of target statuses gives the documented post status."""
    assert rollup(targets) is expected


def test_skipped_rollups_never_change_the_result() -> None:
    """Every move the engine skips recomputing leaves the rollup equal, for any sibling."""
    from crosspost.domain.enums import TargetStatus
    from crosspost.engine.transitions import _may_change_rollup

    for old in TargetStatus:
        for new in TargetStatus:
            if _may_change_rollup(old, new):
                continue
            for sibling in TargetStatus:
                assert rollup([old.value, sibling.value]) is rollup([new.value, sibling.value]), (
                    old,
                    new,
                    sibling,
                )
