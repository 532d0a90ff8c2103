"""/v1/content: seed 002's content generation (a recap of a date range's content items and
GitHub activity, optionally proposed as a pull request), and the tenant's own templates.

Generating needs `posts:write`; reading templates `posts:read`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from crosspost.api.deps import PostsReadDep, PostsWriteDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import create_idempotently
from crosspost.domain.content import ContentType, GenerateRequest, GenerateResponse, TemplateBody
from crosspost.engine import tasks
from crosspost.errors import CrosspostError, NotFound
from crosspost.pipeline import generate, recap
from crosspost.providers.errors import ProviderError
from crosspost.store import content_items as item_rows
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/content", tags=["content"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


class TemplatePublic(BaseModel):
    """A kind of post's template: the tenant's own, or the built-in one."""

    content_type: ContentType
    template: str
    builtin: bool


@router.post(
    "/generate",
    response_model=GenerateResponse,
    responses={**_ERRORS, 202: {"model": GenerateResponse, "description": "Queued (async)."}},
)
async def generate_content(
    request: Request,
    body: GenerateRequest,
    svc: ServicesDep,
    principal: PostsWriteDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    """Make a recap of the date range's content items (ready for content and not rejected,
    by default) and GitHub activity: `sync` answers with it (200), `async` answers 202 with
    the job to follow at `status_url`. With `open_pull_request` the post is committed to
    the pipeline's recap repository and proposed (or its open pull request updated). Under
    one Idempotency-Key (header, or `idempotency_key` in the body) a replay answers the
    same job and makes nothing again."""
    key = idempotency_key or body.idempotency_key
    made: dict[str, Row] = {}

    def create(conn: Connection) -> tuple[bytes, bytes]:
        task = generate.start(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            mode=principal.mode.value,
            request=body,
        )
        made["task"] = task
        status = "queued" if body.mode == "async" else "processing"
        answer = generate.response(svc, task, body, None, None, status=status)
        encoded = answer.model_dump_json().encode()
        return encoded, encoded

    status = 202 if body.mode == "async" else 200
    answer = await create_idempotently(svc, principal, request, key, create, status=status)
    task = made.get("task")
    if task is None or body.mode == "async":
        if task is not None:
            request.app.state.wake_workers()
        return answer  # queued, or a replay of what the first request answered

    def work() -> GenerateResponse:
        try:
            done = generate.generate(svc, principal.tenant_id, principal.mode.value, body)
        except (CrosspostError, ProviderError) as exc:
            refusal = _refusal(exc)
            with svc.db.write() as conn:
                tasks.fail(conn, task, refusal.code, refusal.detail, svc.clock.now())
            raise refusal from exc
        with svc.db.write() as conn:
            return generate.finish(svc, conn, task, body, done, svc.clock.now())

    done = await svc.db.run(work)
    return Response(done.model_dump_json(), status_code=200, media_type="application/json")


@router.get("/templates/{content_type}", response_model=TemplatePublic, responses=_ERRORS)
async def get_template(
    content_type: ContentType, svc: ServicesDep, principal: PostsReadDep
) -> TemplatePublic:
    """The template a kind of post is made with: the tenant's own, else the built-in."""

    def read() -> str | None:
        with svc.db.read() as conn:
            return item_rows.get_template(conn, principal.tenant_id, content_type)

    own = await svc.db.run(read)
    text = own if own is not None else recap.builtin_template(content_type)
    return TemplatePublic(content_type=content_type, template=text, builtin=own is None)


@router.put("/templates/{content_type}", response_model=TemplatePublic, responses=_ERRORS)
async def put_template(
    content_type: ContentType, body: TemplateBody, svc: ServicesDep, principal: PostsWriteDep
) -> TemplatePublic:
    """Make posts of this kind with your own Jinja template (run sandboxed); one that does
    not parse is refused naming the line."""
    recap.check_template(body.template)

    def work() -> None:
        with svc.db.write() as conn:
            item_rows.put_template(
                conn, principal.tenant_id, content_type, body.template, svc.clock.now()
            )

    await svc.db.run(work)
    return TemplatePublic(content_type=content_type, template=body.template, builtin=False)


@router.delete("/templates/{content_type}", status_code=204, responses=_ERRORS)
async def delete_template(
    content_type: Literal["daily_recap", "weekly_summary", "topic_focus"],
    svc: ServicesDep,
    principal: PostsWriteDep,
) -> Response:
    """Go back to the built-in template (404 when you had none of your own)."""

    def work() -> bool:
        with svc.db.write() as conn:
            return item_rows.delete_template(conn, principal.tenant_id, content_type)

    if not await svc.db.run(work):
        raise NotFound(
            f"you have no {content_type} template of your own", code="template_not_found"
        )
    return Response(status_code=204)


class UpstreamFailed(CrosspostError):
    """An outside service (GitHub) refused or failed the work asked for (502)."""

    status = 502
    code = "upstream_failed"
    title = "Bad gateway"


def _refusal(exc: CrosspostError | ProviderError) -> CrosspostError:
    """The problem a failed sync generation answers with (the job records the same)."""
    if isinstance(exc, CrosspostError):
        return exc
    return UpstreamFailed(exc.message, code=exc.code)
