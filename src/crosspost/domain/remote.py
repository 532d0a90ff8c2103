"""What taking a published post down on its platforms answers (`DELETE …/remote`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from crosspost.domain.models import PostPublic, TargetPublic


class TargetRemoval(BaseModel):
    """What a delete did to one target."""

    target_id: str
    platform: str
    outcome: Literal["deleted", "already_gone", "not_deleted"] = Field(
        description="deleted: crosspost deleted it on the platform; already_gone: the "
        "platform no longer had it (deleted there, or by an earlier attempt), and it counts "
        "as deleted; not_deleted: it was left as it was, `code` and `detail` say why."
    )
    code: str | None = Field(
        default=None,
        description="Why it was not deleted, as the single-target delete's problem `code` "
        "would say: not_published, already_deleted, unsupported_operation, "
        "delete_in_progress, account_needs_reauth, platform_refused, platform_unavailable, "
        "platform_rate_limited.",
    )
    detail: str | None = Field(default=None, description="What to do about it.")
    target: TargetPublic = Field(description="The target as it stands after the delete.")


class PostRemoval(BaseModel):
    """What deleting a post on every platform it was published to did."""

    post: PostPublic = Field(description="The post as it stands after the delete.")
    targets: list[TargetRemoval]
