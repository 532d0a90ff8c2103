"""The filters lists of posts and of targets share, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query

from crosspost.domain.bounds import AwareInstant
from crosspost.domain.enums import Platform
from crosspost.store.posts import PostFilter

Order = Literal["newest", "oldest"]


@dataclass(frozen=True)
class Listing:
    """A list's filter (its `status` still to set by the route) and order."""

    where: PostFilter
    oldest_first: bool


def _listing(
    platform: Annotated[Platform | None, Query(description="With a target on it.")] = None,
    account_id: Annotated[
        str | None, Query(max_length=40, description="With a target on this account.")
    ] = None,
    created_since: Annotated[AwareInstant | None, Query(description="Created at or after.")] = None,
    created_until: Annotated[AwareInstant | None, Query(description="Created before.")] = None,
    published_since: Annotated[
        AwareInstant | None, Query(description="Published (a target) at or after.")
    ] = None,
    published_until: Annotated[
        AwareInstant | None, Query(description="Published (a target) before.")
    ] = None,
    order: Annotated[Order, Query(description="newest first (default) or oldest.")] = "newest",
) -> Listing:
    where = PostFilter(
        platform=platform.value if platform else None, account_id=account_id,
        created_since=created_since, created_until=created_until,
        published_since=published_since, published_until=published_until,
    )  # fmt: skip
    return Listing(where, order == "oldest")


ListingDep = Annotated[Listing, Depends(_listing)]
