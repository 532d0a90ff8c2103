"""Posts: the list with its filters, a post's page (its targets live, its ledger, why a target
failed and what to do), retry and cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.domain.enums import PostStatus, TargetStatus
from crosspost.web.api_calls import Api, Refused
from crosspost.web.charts import HEIGHT, WIDTH, views_over_time
from crosspost.web.pages import render, secure
from crosspost.web.people import signed_in

router = APIRouter()

# What a person does about a target, by how its failure is classified (ARCHITECTURE §1.5).
ACTIONS = {
    "auth": "The account's authorization ended: reconnect it, and the target carries on.",
    "rate_limited": "The platform asked us to slow down: it is tried again at the time shown.",
    "quota": "The account's daily quota is spent: it is tried again when the quota resets.",
    "transient": "The platform failed for a moment: retry it (it is also retried on its own).",
    "permanent": "The platform refused this post: change what it names, then retry.",
    "unconfirmed": "crosspost is asking the platform whether the post exists before anything "
    "else happens, so it is never posted twice.",
}
# Targets a person may retry, as the API allows (a refused retry would show its reason).
RETRYABLE = {TargetStatus.FAILED.value, TargetStatus.NEEDS_REAUTH.value}
# Events that change what a post's page shows.
LIVE_EVENTS = " ".join(
    [
        *(f"post.{n}" for n in ("published", "partially_published", "failed", "cancelled")),
        *(f"target.{n}" for n in ("uploading", "published", "failed", "unconfirmed", "waiting")),
        "target.needs_reauth",
        "target.deleted",
        "post.edited",
    ]
)


@router.get("/app")
async def home() -> Response:
    """The dashboard opens on the posts."""
    return secure(RedirectResponse("/app/posts", status_code=303))


@router.get("/app/posts")
async def list_posts(
    request: Request,
    status: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str, Query(max_length=400)] = "",
    scheduled_since: Annotated[str, Query(max_length=40)] = "",
    scheduled_until: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The tenant's posts, newest first, narrowed by status (and by when they publish, as
    a busy calendar day links here); a page at a time."""
    person, api = await signed_in(request)
    wanted = status if status in {s.value for s in PostStatus} else ""
    page = await api.get("/v1/posts", status=wanted, cursor=cursor, limit=25,
                         scheduled_since=scheduled_since,
                         scheduled_until=scheduled_until)  # fmt: skip
    template = "posts/rows.html" if request.headers.get("hx-request") else "posts/list.html"
    return render(request, template, person=person, page=page, status=wanted,
                  statuses=[s.value for s in PostStatus],
                  scheduled=(scheduled_since, scheduled_until))  # fmt: skip


async def _post(api: Any, post_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await api.get(f"/v1/posts/{post_id}")
    return found


async def _post_page(
    request: Request, post_id: str, template: str, status: int = 200, error: str = ""
) -> Response:
    person, api = await signed_in(request)
    post = await _post(api, post_id)
    ledger = await api.get(f"/v1/posts/{post_id}/ledger")
    metrics = await _metrics(api, post)
    return render(request, template, status, person=person, post=post, ledger=ledger,
                  actions=ACTIONS, retryable=RETRYABLE, live_events=LIVE_EVENTS, error=error,
                  metrics=metrics, views_over_time=views_over_time, chart_width=WIDTH,
                  chart_height=HEIGHT)  # fmt: skip


async def _metrics(api: Api, post: dict[str, Any]) -> dict[str, Any] | None:
    """How the post performed, once a target is published (None before, or when the
    operator switched post metrics off)."""
    if not any(t["status"] == TargetStatus.PUBLISHED.value for t in post["targets"]):
        return None
    try:
        found: dict[str, Any] = await api.get(f"/v1/posts/{post['id']}/metrics")
    except Refused:
        return None
    return found


@router.get("/app/posts/{post_id}")
async def show_post(request: Request, post_id: str) -> Response:
    """A post: every target with its status, the ledger and what to do about a failure,
    kept live."""
    return await _post_page(request, post_id, "posts/show.html")


@router.get("/app/posts/{post_id}/live")
async def post_body(request: Request, post_id: str) -> Response:
    """The post's page below its title, as an event redraws it."""
    return await _post_page(request, post_id, "posts/body.html")


@router.post("/app/posts/{post_id}/targets/{target_id}/retry")
async def retry_target(request: Request, post_id: str, target_id: str) -> Response:
    """Retry a failed target now; the post redrawn, showing where it went, or why not."""
    _, api = await signed_in(request)
    try:
        await api.send("POST", f"/v1/posts/{post_id}/targets/{target_id}/retry")
    except Refused as refused:
        return await _post_page(request, post_id, "posts/body.html", error=refused.message)
    return await _post_page(request, post_id, "posts/body.html")


@router.post("/app/posts/{post_id}/reschedule")
async def reschedule_post(
    request: Request,
    post_id: str,
    publish_at: Annotated[str, Form(max_length=40)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Move a scheduled post to another time (a local time in `timezone`); its page says
    whether the API allowed it."""
    _, api = await signed_in(request)
    # An empty time would mean "now" to the API: a reschedule always names one.
    change = {"publish_at": publish_at or "missing", "timezone": timezone or None}
    try:
        await api.send("PATCH", f"/v1/posts/{post_id}", change)
    except Refused as refused:
        return await _post_page(
            request, post_id, "posts/show.html", refused.status, error=refused.message
        )
    return secure(RedirectResponse(f"/app/posts/{post_id}", status_code=303))


@router.post("/app/posts/{post_id}/cancel")
async def cancel_post(request: Request, post_id: str) -> Response:
    """Cancel what of a post has not started publishing; back to its page."""
    _, api = await signed_in(request)
    await api.send("POST", f"/v1/posts/{post_id}/cancel")
    return secure(RedirectResponse(f"/app/posts/{post_id}", status_code=303))
