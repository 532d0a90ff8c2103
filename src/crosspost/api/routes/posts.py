"""/v1/posts: create, validate (a dry run), read, list, edit, cancel, targets and the ledger."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crosspost.api.auth import check_scopes
from crosspost.api.deps import PostsReadDep, PostsWriteDep, ServicesDep, require_flag
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import Idempotency, IdempotencyKey
from crosspost.api.listing import ListingDep
from crosspost.api.pagination import decode_position, paginate_both
from crosspost.domain.bounds import AwareInstant, PageLimit
from crosspost.domain.enums import PostStatus, TargetStatus
from crosspost.domain.models import (
    FitPlanned,
    LedgerEventPublic,
    LeftAlone,
    PostCreate,
    PostEdit,
    PostEdited,
    PostPublic,
    PostValidate,
    PostValidation,
    ProblemItem,
    TargetPublic,
    TwoWayPage,
    ValidatedTarget,
)
from crosspost.engine.fit import FitPlan
from crosspost.engine.post_edits import edit_post
from crosspost.engine.posts import cancel_post, validate_post, write_post
from crosspost.engine.retries import retry_target
from crosspost.engine.services import Services
from crosspost.engine.views import load_post, post_public, target_public
from crosspost.errors import NotFound, UnsupportedMediaType
from crosspost.media.validate import MediaInfo
from crosspost.store import ledger, posts
from crosspost.store.rows import Row
from crosspost.usage.metering import warning_header

router = APIRouter(prefix="/v1/posts", tags=["posts"])
_ERRORS = problem_responses(401, 402, 404, 409, 415, 422)


def require_json(request: Request) -> None:
    """Refuse bodies that are not JSON (415), rather than guessing."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise UnsupportedMediaType(
            "send the body as JSON with `Content-Type: application/json`", code="json_required"
        )


@router.post("", status_code=201, response_model=PostPublic, responses=_ERRORS)
async def create(
    request: Request,
    body: PostCreate,
    svc: ServicesDep,
    principal: PostsWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a post; one target per destination. Honors `Idempotency-Key` for 24 h."""
    require_json(request)
    raw = await request.body()
    idem = Idempotency(
        svc, principal, method="POST", path=request.url.path, key=idempotency_key, body=raw
    )

    def work() -> Response:
        # One transaction claims the key, writes the post and keeps the answer for replays.
        with svc.db.write() as conn:
            replay = idem.claim(conn)
            if replay is not None:
                return replay
            created = write_post(
                svc,
                conn,
                tenant_id=principal.tenant_id,
                mode=principal.mode,
                body=body,
                key_id=principal.key_id,
            )
            answer = post_public(created.post, created.targets).model_dump_json().encode()
            idem.finish(conn, 201, answer)
        return Response(
            answer,
            status_code=201,
            media_type="application/json",
            headers=warning_header(created.usage_warnings),
        )

    response = await svc.db.run(work)
    request.app.state.wake_workers()
    return response


@router.post(
    "/validate",
    response_model=PostValidation,
    responses=problem_responses(401, 402, 403, 415, 422),
)
async def validate(
    request: Request, body: PostValidate, svc: ServicesDep, principal: PostsWriteDep
) -> PostValidation:
    """Check a post without creating it: the body of POST /v1/posts, where `media` may
    describe a file not uploaded yet. Runs every check create runs (scopes, targets, options,
    time, caption and media limits per platform, quotas) and answers the same problem create
    would, listing every problem found in `errors`; on success, what each target would do.
    Writes nothing: no post, no usage, no idempotency record. It is one API call (rate
    limits and the `api_calls` metric count it), never a post."""
    require_json(request)
    described = None
    if body.media is not None:
        check_scopes(principal, ["media:write"])  # the upload to come needs it
        described = MediaInfo.from_row(body.media.model_dump())
    plan = await svc.db.run(
        validate_post,
        svc,
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        mode=principal.mode,
        body=body,
        described=described,
    )
    initial = TargetStatus.SCHEDULED if plan.publish_at else TargetStatus.QUEUED
    return PostValidation(
        valid=not any(target.violations for target in plan.targets),
        publish_at=plan.publish_at,
        targets=[
            ValidatedTarget(
                platform=target.platform.value,
                account_id=target.account["id"],
                account_status=target.account["status"],
                status=TargetStatus.FAILED if target.violations else initial,
                problems=[
                    ProblemItem(field=f"targets[{target.index}]", message=v.message, type=v.code)
                    for v in target.violations
                ],
                warnings=[ProblemItem.model_validate(w) for w in target.warnings()],
                fit=_fit_planned(target.index, target.fitting) if target.fitting else None,
            )
            for target in plan.targets
        ],
    )


def _fit_planned(index: int, plan: FitPlan) -> FitPlanned:
    return FitPlanned(
        aspect=plan.aspect,
        max_duration=plan.max_duration,
        because=[
            ProblemItem(field=f"targets[{index}]", message=v.message, type=v.code)
            for v in plan.because
        ],
    )


@router.get("", response_model=TwoWayPage[PostPublic], responses=_ERRORS)
async def list_posts(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    listing: ListingDep,
    status: PostStatus | None = None,
    media_id: Annotated[str | None, Query(max_length=40, description="Using this media.")] = None,
    scheduled_since: Annotated[
        AwareInstant | None, Query(description="Scheduled (publish_at) at or after.")
    ] = None,
    scheduled_until: Annotated[
        AwareInstant | None, Query(description="Scheduled (publish_at) before.")
    ] = None,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> TwoWayPage[PostPublic]:
    """A page of posts, newest first (`order=oldest` for the other way), narrowed by status,
    platform, account, media and created, scheduled or published time; follow
    `next_cursor` (or the `Link` header)."""
    position = decode_position(cursor)
    oldest_first = listing.oldest_first != position.backwards
    where = replace(
        listing.where, status=status.value if status else None, media_id=media_id,
        scheduled_since=scheduled_since, scheduled_until=scheduled_until,
    )  # fmt: skip

    def read() -> tuple[list[Row], dict[str, list[Row]]]:
        with svc.db.read() as conn:
            rows = posts.list_posts(conn, principal.tenant_id, where=where,
                                    after_id=position.after_id, limit=limit + 1,
                                    oldest_first=oldest_first)  # fmt: skip
            return rows, posts.targets_of(conn, [r["id"] for r in rows[:limit]])

    rows, grouped = await svc.db.run(read)
    return paginate_both(rows, limit, position, request, response,
                         lambda r: post_public(r, grouped[r["id"]]))  # fmt: skip


@router.get("/{post_id}", response_model=PostPublic, responses=_ERRORS)
async def get_post(post_id: str, svc: ServicesDep, principal: PostsReadDep) -> PostPublic:
    """A post with every target's status."""
    return await svc.db.run(_load, svc, principal.tenant_id, post_id)


def _load(svc: Services, tenant_id: str, post_id: str) -> PostPublic:
    with svc.db.read() as conn:
        return load_post(conn, tenant_id, post_id)


@router.patch("/{post_id}", response_model=PostEdited, responses=_ERRORS)
async def edit(
    request: Request,
    post_id: str,
    body: PostEdit,
    svc: ServicesDep,
    principal: PostsWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Change text, overrides, schedule or destinations of the targets no worker has started;
    targets already under way keep what they started with and are listed in `left_alone`.
    Honors `Idempotency-Key` for 24 h."""
    require_flag(request, "posts.edit", principal.tenant_id)
    require_json(request)
    raw = await request.body()
    idem = Idempotency(
        svc, principal, method="PATCH", path=request.url.path, key=idempotency_key, body=raw
    )

    def work() -> Response:
        with svc.db.write() as conn:
            replay = idem.claim(conn)
            if replay is not None:
                return replay
            outcome = edit_post(
                svc, conn, tenant_id=principal.tenant_id, post_id=post_id, body=body
            )
            answer = PostEdited(
                post=post_public(outcome.post, outcome.targets),
                changed=outcome.changed,
                edited=outcome.edited,
                added=outcome.added,
                removed=outcome.removed,
                left_alone=[LeftAlone.model_validate(t) for t in outcome.left_alone],
            )
            encoded = answer.model_dump_json().encode()
            idem.finish(conn, 200, encoded)
        return Response(encoded, media_type="application/json")

    response = await svc.db.run(work)
    request.app.state.wake_workers()
    return response


@router.post("/{post_id}/cancel", response_model=PostPublic, responses=_ERRORS)
async def cancel(post_id: str, svc: ServicesDep, principal: PostsWriteDep) -> PostPublic:
    """Cancel every target that has not reached its irreversible publish step."""
    await svc.db.run(cancel_post, svc, tenant_id=principal.tenant_id, post_id=post_id)
    return await svc.db.run(_load, svc, principal.tenant_id, post_id)


@router.post("/{post_id}/targets/{target_id}/retry", response_model=TargetPublic, responses=_ERRORS)
async def retry(
    request: Request, post_id: str, target_id: str, svc: ServicesDep, principal: PostsWriteDep
) -> TargetPublic:
    """Try a `failed` target again, or one parked as `needs_reauth` once its account is
    reconnected: a fresh attempt budget, from where it stood (if its last attempt may have
    reached the platform, crosspost looks for the post there before publishing again)."""
    require_flag(request, "posts.retry", principal.tenant_id)
    row = await svc.db.run(
        lambda: retry_target(
            svc, tenant_id=principal.tenant_id, post_id=post_id, target_id=target_id
        )
    )
    return target_public(row)


@router.get("/{post_id}/targets/{target_id}", response_model=TargetPublic, responses=_ERRORS)
async def get_target(
    post_id: str, target_id: str, svc: ServicesDep, principal: PostsReadDep
) -> TargetPublic:
    """One target: status, attempts, next attempt, external id and URL, last error."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return posts.get_target(conn, target_id, tenant_id=principal.tenant_id)

    row = await svc.db.run(read)
    if row is None or row["post_id"] != post_id:
        raise NotFound(f"no target {target_id!r} on post {post_id!r}")
    return target_public(row)


@router.get("/{post_id}/ledger", response_model=list[LedgerEventPublic], responses=_ERRORS)
async def get_ledger(
    post_id: str, svc: ServicesDep, principal: PostsReadDep
) -> list[LedgerEventPublic]:
    """Every event of the post's publishing, in order, with timestamps."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            if posts.get_post(conn, principal.tenant_id, post_id) is None:
                raise NotFound(f"no post {post_id!r}")
            return ledger.list_events(conn, principal.tenant_id, post_id)

    rows = await svc.db.run(read)
    return [LedgerEventPublic.model_validate(dict(r)) for r in rows]
