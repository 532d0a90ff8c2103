"""Content: the pipelines, the content items they made (reviewed here) and their jobs,
read and acted on through the API."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.domain.pipeline import ProcessingStatus
from crosspost.engine.services import Services
from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
_HOME = "/app/content"
STATUSES: tuple[str, ...] = get_args(ProcessingStatus)
# Which clips "Run now" takes: the API's default (yesterday, UTC), or the last days up to now.
WINDOWS = {"": "yesterday (UTC)", "1": "the last 24 hours", "3": "the last 3 days",
           "7": "the last 7 days"}  # fmt: skip
JOB_KINDS = {"pipeline_run": "Pipeline run", "content_generation": "Content generation"}
# Items the API lets a person review (a refused review would still show its reason).
REVIEWABLE = "ready_for_content"


@router.get(_HOME)
async def content_home(
    request: Request,
    status: Annotated[str, Query(max_length=40)] = "",
    pipeline_id: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str, Query(max_length=400)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """The tenant's pipelines with their latest run, and its newest content items (by
    status or pipeline), a page at a time."""
    person, api = await signed_in(request)
    wanted = status if status in STATUSES else ""
    pipelines = await api.get("/v1/pipelines", limit=100)
    # One call for every pipeline's latest run: finished jobs are only kept a short while.
    runs = await api.get("/v1/jobs", kind="pipeline_run", limit=100)
    last_runs: dict[str, dict[str, Any]] = {}
    for job in runs["data"]:
        last_runs.setdefault(job["subject_id"], job)
    items = await api.get("/v1/content-items", status=wanted, pipeline_id=pipeline_id,
                          cursor=cursor, limit=limit)  # fmt: skip
    kept = {"status": wanted, "pipeline_id": pipeline_id, "limit": limit if limit != 20 else ""}
    older = {k: v for k, v in kept.items() if v} | {"cursor": items["next_cursor"]}
    return render(request, "content/index.html", person=person, pipelines=pipelines,
                  names={p["id"]: p["name"] for p in pipelines["data"]}, last_runs=last_runs,
                  items=items, status=wanted, statuses=STATUSES, pipeline_id=pipeline_id,
                  older=f"{_HOME}?{urlencode(older)}")  # fmt: skip


def _now(request: Request) -> datetime:
    svc: Services = request.app.state.services
    return svc.clock.now()


async def _item_page(
    request: Request, person: Person, api: Api, item_id: str, status: int = 200, **values: Any
) -> Response:
    item = await api.get(f"/v1/content-items/{item_id}")
    pipeline = await api.get(f"/v1/pipelines/{item['pipeline_id']}")
    return render(request, "content/item.html", status, person=person, item=item,
                  pipeline=pipeline, reviewable=REVIEWABLE, **values)  # fmt: skip


@router.get(_HOME + "/items/{item_id}")
async def show_item(
    request: Request, item_id: str, reviewed: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    """A content item: its clip, scores, parts, and its review."""
    person, api = await signed_in(request)
    return await _item_page(request, person, api, item_id, reviewed=reviewed)


@router.post(_HOME + "/items/{item_id}/review")
async def review_item(
    request: Request, item_id: str, review: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    """Approve or reject an item; its page says so, or why the API would not."""
    person, api = await signed_in(request)
    try:
        await api.send("POST", f"/v1/content-items/{item_id}/review", {"review": review})
    except Refused as refused:
        return await _item_page(request, person, api, item_id, refused.status,
                                error=refused.message)  # fmt: skip
    return secure(RedirectResponse(f"{_HOME}/items/{item_id}?reviewed={review}", status_code=303))


async def _pipeline_page(
    request: Request, person: Person, api: Api, pipeline_id: str, status: int = 200, **values: Any
) -> Response:
    pipeline = await api.get(f"/v1/pipelines/{pipeline_id}")
    # Runs and generations name the pipeline as their subject.
    jobs = await api.get("/v1/jobs", subject_id=pipeline_id, limit=20)
    return render(request, "content/pipeline.html", status, person=person, pipeline=pipeline,
                  jobs=jobs["data"], job_kinds=JOB_KINDS, windows=WINDOWS,
                  form_key=secrets.token_urlsafe(16), issued=_now(request).isoformat(),
                  **values)  # fmt: skip


@router.get(_HOME + "/pipelines/{pipeline_id}")
async def show_pipeline(
    request: Request, pipeline_id: str, started: Annotated[str, Query(max_length=1)] = ""
) -> Response:
    """A pipeline: its sources and settings, "Run now", and its recent jobs."""
    person, api = await signed_in(request)
    return await _pipeline_page(request, person, api, pipeline_id, started=bool(started))


@router.post(_HOME + "/pipelines/{pipeline_id}/runs")
async def run_pipeline(
    request: Request,
    pipeline_id: str,
    window: Annotated[str, Form(max_length=4)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
    issued: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Start a run over the chosen clips. The form's key makes a second press the same run;
    its window ends when the form was shown, so both presses ask for the same range."""
    person, api = await signed_in(request)
    if window not in WINDOWS:
        unknown = "choose which clips to run over from the list"
        return await _pipeline_page(request, person, api, pipeline_id, 422, error=unknown)
    body: dict[str, str] = {}
    if window:
        try:
            until = datetime.fromisoformat(issued)
        except ValueError:
            until = _now(request)
        body = {"since": (until - timedelta(days=int(window))).isoformat(),
                "until": until.isoformat()}  # fmt: skip
    try:
        await api.send("POST", f"/v1/pipelines/{pipeline_id}/runs", body,
                       idempotency_key=form_key or None)  # fmt: skip
    except Refused as refused:
        return await _pipeline_page(request, person, api, pipeline_id, refused.status,
                                    error=refused.message)  # fmt: skip
    return secure(RedirectResponse(f"{_HOME}/pipelines/{pipeline_id}?started=1", status_code=303))
