"""/v1/posts/{id}/remote: take published posts down on their platforms."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from crosspost.api.deps import PostsWriteDep, ServicesDep, client_ip, require_flag
from crosspost.api.errors import problem_responses
from crosspost.domain.models import PostPublic, TargetPublic
from crosspost.domain.remote import PostRemoval, TargetRemoval
from crosspost.engine.remote_delete import Removal, delete_post_targets, delete_target
from crosspost.engine.views import load_post, target_public
from crosspost.errors import CrosspostError

router = APIRouter(prefix="/v1/posts", tags=["posts"])
_ERRORS = problem_responses(401, 404, 409, 422, 502, 503)
_FLAG = "posts.remote_delete"


@router.delete(
    "/{post_id}/targets/{target_id}/remote", response_model=TargetRemoval, responses=_ERRORS
)
async def delete_one(
    request: Request, post_id: str, target_id: str, svc: ServicesDep, principal: PostsWriteDep
) -> TargetRemoval:
    """Take a published target down on its platform (YouTube `videos.delete`, X `DELETE
    /2/tweets/:id`, LinkedIn `DELETE /rest/posts/{urn}`, SoundCloud `DELETE /tracks/{id}`);
    it becomes `deleted`. Instagram and TikTok offer no deletion: 422 `unsupported_operation`.
    A target not published is 409 `not_published`; one another request is deleting, 409
    `delete_in_progress`; a post the platform no longer has counts as deleted."""
    require_flag(request, _FLAG, principal.tenant_id)
    actor = principal.actor(client_ip(request))
    # The platform's answer takes a network round trip: never on the event loop (SQLite's
    # `db.run` works inline).
    removal = await run_in_threadpool(
        lambda: delete_target(
            svc, tenant_id=principal.tenant_id, post_id=post_id, target_id=target_id, actor=actor
        )
    )
    return _removed(removal, target_public(removal.target))


@router.delete("/{post_id}/remote", response_model=PostRemoval, responses=_ERRORS)
async def delete_all(
    request: Request, post_id: str, svc: ServicesDep, principal: PostsWriteDep
) -> PostRemoval:
    """Take every published target of a post down on its platform. Each target says what
    was done (`deleted`, `already_gone`) or why it was left (`not_deleted` with the `code` a
    single-target delete would answer). 409 `not_published` when nothing of the post is
    published."""
    require_flag(request, _FLAG, principal.tenant_id)
    actor = principal.actor(client_ip(request))
    done = await run_in_threadpool(
        lambda: delete_post_targets(
            svc, tenant_id=principal.tenant_id, post_id=post_id, actor=actor
        )
    )

    def read() -> PostPublic:
        with svc.db.read() as conn:
            return load_post(conn, principal.tenant_id, post_id)

    post = await svc.db.run(read)
    after = {t.id: t for t in post.targets}
    results = []
    for row, outcome in done:
        if isinstance(outcome, CrosspostError):
            results.append(
                TargetRemoval(
                    target_id=row["id"], platform=row["platform"], outcome="not_deleted",
                    code=outcome.code, detail=outcome.detail, target=after[row["id"]],
                )
            )  # fmt: skip
        else:
            results.append(_removed(outcome, after[row["id"]]))
    return PostRemoval(post=post, targets=results)


def _removed(removal: Removal, target: TargetPublic) -> TargetRemoval:
    return TargetRemoval(
        target_id=target.id,
        platform=target.platform,
        outcome="already_gone" if removal.already_gone else "deleted",
        target=target,
    )
