"""/v1/oauth/callback: where platforms send the user back after consent."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from crosspost.api.deps import ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.engine.connect import finish_connect

router = APIRouter(prefix="/v1/oauth", tags=["accounts"])


@router.get("/callback", responses=problem_responses(422))
async def callback(
    svc: ServicesDep,
    state: Annotated[str, Query(max_length=200)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Finish a connection (no API key: the single-use `state` is the permission). With a
    `return_to`, the user is redirected there with `account_id`; else JSON. A refusal is a
    problem+json saying why (denied, expired or reused link, exchange refused)."""
    # It calls the platform (the code exchange): not inline on SQLite's event loop, nor on
    # the database's few threads (PostgreSQL).
    done = await run_in_threadpool(
        finish_connect, svc, state=state, code=code, error=error, description=error_description
    )
    body = {
        "account_id": done.account_id,
        "platform": done.platform.value,
        "handle": done.handle,
        "status": "connected" if done.created else "reconnected",
    }
    if done.return_to:
        joiner = "&" if "?" in done.return_to else "?"
        return RedirectResponse(f"{done.return_to}{joiner}{urlencode(body)}", status_code=303)
    return JSONResponse(body)
