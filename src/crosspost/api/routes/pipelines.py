"""/v1/pipelines: content pipelines (seed 002), the GitHub activity they hold, and the URL
GitHub delivers a pipeline's webhook events to.

Creating or changing a pipeline needs `accounts:write` (it holds a GitHub token); reading
needs `posts:read`. The webhook receiver takes no API key: GitHub's signature made with the
pipeline's secret authenticates each delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from crosspost.api.deps import AccountsWriteDep, PostsReadDep, PostsWriteDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, accept_idempotently, create_idempotently
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import ConnectLink, Page
from crosspost.domain.pipeline import (
    DeliveryReceipt,
    EventKind,
    GitHubEventPublic,
    PipelineCreate,
    PipelinePatch,
    PipelinePublic,
    RunRequest,
    TwitchConnectRequest,
    TwitchDisconnected,
)
from crosspost.domain.studio import JobPublic
from crosspost.engine import tasks
from crosspost.errors import InvalidInput
from crosspost.pipeline import github_webhook, pipelines, run_job, twitch_owner
from crosspost.store import pipelines as rows
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"])
_ERRORS = problem_responses(401, 403, 404, 422)


@router.post("", status_code=201, response_model=PipelinePublic, responses=_ERRORS)
async def create_pipeline(
    request: Request,
    body: PipelineCreate,
    svc: ServicesDep,
    principal: AccountsWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a pipeline: a Twitch channel, the repositories its streams are about, and
    where recaps go. The answer's `github_webhook` says how to point each repository's
    webhook here; its `secret` is shown now and never again (a replay under the same
    `Idempotency-Key` answers without it)."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row, secret = pipelines.create(svc, conn, principal.tenant_id, principal.mode, body)
        shown = pipelines.public(svc, row, secret=secret).model_dump_json().encode()
        # A replay answers the pipeline without its secret: no secret rests in plain text.
        return shown, pipelines.public(svc, row).model_dump_json().encode()

    return await create_idempotently(svc, principal, request, idempotency_key, create)


@router.get("", response_model=Page[PipelinePublic], responses=_ERRORS)
async def list_pipelines(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[PipelinePublic]:
    """A page of the tenant's pipelines, newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return rows.list_pipelines(conn, principal.tenant_id, before_id=before, limit=limit + 1)

    found = await svc.db.run(read)
    return paginate(found, limit, request, response, lambda row: pipelines.public(svc, row))


@router.get("/{pipeline_id}", response_model=PipelinePublic, responses=_ERRORS)
async def get_pipeline(
    pipeline_id: str, svc: ServicesDep, principal: PostsReadDep
) -> PipelinePublic:
    """A pipeline (its webhook secret and GitHub token are never shown)."""

    def read() -> Row:
        with svc.db.read() as conn:
            return pipelines.get(conn, principal.tenant_id, pipeline_id)

    return pipelines.public(svc, await svc.db.run(read))


@router.patch("/{pipeline_id}", response_model=PipelinePublic, responses=_ERRORS)
async def patch_pipeline(
    pipeline_id: str, body: PipelinePatch, svc: ServicesDep, principal: AccountsWriteDep
) -> PipelinePublic:
    """Change a pipeline: only the fields given change; `recap: null` or
    `github_token: null` removes it."""

    def work() -> Row:
        with svc.db.write() as conn:
            return pipelines.patch(svc, conn, principal.tenant_id, pipeline_id, body)

    return pipelines.public(svc, await svc.db.run(work))


@router.post(
    "/{pipeline_id}/rotate-webhook-secret", response_model=PipelinePublic, responses=_ERRORS
)
async def rotate_webhook_secret(
    pipeline_id: str, svc: ServicesDep, principal: AccountsWriteDep
) -> PipelinePublic:
    """Make a new webhook secret, shown in this answer only; deliveries signed with the old
    one are refused from now on, so set it on GitHub at once."""

    def work() -> tuple[Row, str]:
        with svc.db.write() as conn:
            return pipelines.rotate_webhook_secret(svc, conn, principal.tenant_id, pipeline_id)

    row, secret = await svc.db.run(work)
    return pipelines.public(svc, row, secret=secret)


@router.delete("/{pipeline_id}", status_code=204, responses=_ERRORS)
async def delete_pipeline(
    pipeline_id: str, svc: ServicesDep, principal: AccountsWriteDep
) -> Response:
    """Delete a pipeline with the GitHub activity and the content items it holds (their
    media items stay in the library)."""

    def work() -> None:
        with svc.db.write() as conn:
            keys = pipelines.delete(conn, principal.tenant_id, pipeline_id)
        for key in keys:  # after the commit: a crash between leaves files, never rows
            svc.storage.delete(key)

    await svc.db.run(work)
    return Response(status_code=204)


@router.post(
    "/{pipeline_id}/twitch/connect", status_code=201, response_model=ConnectLink, responses=_ERRORS
)
async def connect_twitch(
    pipeline_id: str,
    svc: ServicesDep,
    principal: AccountsWriteDep,
    body: TwitchConnectRequest | None = None,
) -> ConnectLink:
    """Start connecting the channel's Twitch account (its owner's, or an editor's): send
    the user to `authorize_url`; Twitch returns them to `/v1/oauth/callback`, which seals
    their tokens on the pipeline. Runs download clips with them."""
    started = await svc.db.run(
        twitch_owner.start,
        svc,
        tenant_id=principal.tenant_id,
        pipeline_id=pipeline_id,
        return_to=body.return_to if body else None,
    )
    return ConnectLink(authorize_url=started.authorize_url, expires_at=started.expires_at)


@router.delete(
    "/{pipeline_id}/twitch/connection", response_model=TwitchDisconnected, responses=_ERRORS
)
async def disconnect_twitch(
    pipeline_id: str, svc: ServicesDep, principal: AccountsWriteDep
) -> TwitchDisconnected:
    """Forget the channel's Twitch connection and revoke its token at Twitch."""
    # The revocation calls Twitch: off the event loop (SQLite) and the database's threads.
    revoked = await run_in_threadpool(
        twitch_owner.disconnect, svc, tenant_id=principal.tenant_id, pipeline_id=pipeline_id
    )
    return TwitchDisconnected(pipeline_id=pipeline_id, revoked=revoked)


@router.post("/{pipeline_id}/runs", status_code=202, response_model=JobPublic, responses=_ERRORS)
async def start_run(
    pipeline_id: str,
    request: Request,
    body: RunRequest,
    svc: ServicesDep,
    principal: PostsWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Run the pipeline over the clips made in [since, until) (202; yesterday by default):
    GitHub backfilled around them, each new clip a content item, every unfinished item
    processed. Follow the job at `/v1/jobs/{id}`; a rerun picks up only what is missing."""
    today = svc.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    since = body.since or (body.until or today) - timedelta(days=1)
    until = body.until or since + timedelta(days=1)

    def create(conn: Connection) -> tuple[bytes, bytes]:
        task = run_job.start_run(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            pipeline_id=pipeline_id,
            since=since.astimezone(UTC),
            until=until.astimezone(UTC),
        )
        answer = JobPublic.model_validate(tasks.public(svc, task)).model_dump_json().encode()
        return answer, answer

    return await accept_idempotently(svc, principal, request, idempotency_key, create)


@router.get(
    "/{pipeline_id}/github-events", response_model=Page[GitHubEventPublic], responses=_ERRORS
)
async def list_github_events(
    pipeline_id: str,
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    since: Annotated[datetime | None, Query(description="At or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    kind: Annotated[list[EventKind] | None, Query()] = None,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[GitHubEventPublic]:
    """What happened on the pipeline's repositories, oldest first (repeat `kind` to take
    several kinds)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"give {name} with a time zone, e.g. 2026-01-02T00:00:00Z")
    after = _position(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            pipelines.get(conn, principal.tenant_id, pipeline_id)
            return rows.list_events(
                conn,
                pipeline_id,
                since=since,
                until=until,
                kinds=kind or [],
                after=after,
                limit=limit + 1,
            )

    found = await svc.db.run(read)
    return paginate(
        found,
        limit,
        request,
        response,
        GitHubEventPublic.model_validate,
        position=lambda row: f"{row['occurred_at'].isoformat()}|{row['id']}",
    )


@router.post(
    "/{pipeline_id}/github-webhook",
    status_code=202,
    response_model=DeliveryReceipt,
    responses=problem_responses(400, 401, 404, 409, 422),
)
async def github_webhook_delivery(
    pipeline_id: str, request: Request, svc: ServicesDep
) -> DeliveryReceipt:
    """GitHub's deliveries for this pipeline (`push`, `pull_request`, `issues`, `release`,
    `ping`), verified by `X-Hub-Signature-256` and taken once per `X-GitHub-Delivery`."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    return await svc.db.run(github_webhook.receive, svc, pipeline_id, headers, body)


def _position(cursor: str) -> tuple[datetime, str]:
    """The (occurred_at, id) an events cursor points after."""
    at, _, event_id = decode_cursor(cursor).partition("|")
    try:
        return datetime.fromisoformat(at), event_id
    except ValueError:
        raise InvalidInput(
            "the cursor is not one this list gave; start again without it",
            code="invalid_cursor",
        ) from None
