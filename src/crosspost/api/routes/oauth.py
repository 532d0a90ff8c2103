"""/v1/oauth/callback: where platforms send the user back after consent."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from crosspost.api.deps import ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.engine.connect import finish_connect, take_state
from crosspost.engine.services import Services
from crosspost.errors import CrosspostError
from crosspost.pipeline import twitch_owner
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/oauth", tags=["accounts"])


@router.get("/callback", responses=problem_responses(422))
async def callback(
    svc: ServicesDep,
    state: Annotated[str, Query(max_length=200)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Finish a connection (no API key: the single-use `state` is the permission): an
    account's, or a pipeline's Twitch owner's. With a `return_to`, the user is redirected
    there with what was connected (`account_id`, or `pipeline_id`), or with `error` (a
    stable code) and `error_description` when it failed; else JSON, or a problem+json
    saying why (denied, expired or reused link, exchange refused)."""
    row = await svc.db.run(take_state, svc, state)
    return_to = row["return_to"]
    try:
        body = await _finish(svc, row, code, error, error_description)
    except CrosspostError as exc:
        if not return_to:
            raise
        body = {"error": exc.code, "error_description": exc.detail}
    if return_to:
        joiner = "&" if "?" in return_to else "?"
        return RedirectResponse(f"{return_to}{joiner}{urlencode(body)}", status_code=303)
    return JSONResponse(body)


async def _finish(
    svc: Services, row: Row, code: str | None, error: str | None, description: str | None
) -> dict[str, str]:
    """What the consent `row` began connected (or a CrosspostError saying why not)."""
    # Both call the platform (the code exchange): not inline on SQLite's event loop, nor on
    # the database's few threads (PostgreSQL).
    if row["platform"] == twitch_owner.KIND and row["subject_id"]:
        owner = await run_in_threadpool(
            twitch_owner.finish, svc, row, code=code, error=error, description=description
        )
        return owner.model_dump()
    done = await run_in_threadpool(
        finish_connect, svc, row, code=code, error=error, description=description
    )
    return {
        "account_id": done.account_id,
        "platform": done.platform.value,
        "handle": done.handle,
        "status": "connected" if done.created else "reconnected",
    }
