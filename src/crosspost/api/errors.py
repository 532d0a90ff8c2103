"""The one place that turns errors into RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from crosspost.api.problem_types import TYPE_BASE, anchor
from crosspost.domain.models import Problem
from crosspost.errors import CrosspostError

PROBLEM = "application/problem+json"
log = logging.getLogger("crosspost.api")

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    402: ("quota_exceeded", "Quota exceeded"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("invalid_input", "Invalid input"),
    429: ("rate_limited", "Too many requests"),
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json answers for these statuses."""
    return {status: {"model": Problem, "content": {PROBLEM: {}}} for status in statuses}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response with a stable `type` and `code`."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + anchor(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""

    @app.exception_handler(CrosspostError)
    async def _crosspost(request: Request, exc: CrosspostError) -> JSONResponse:
        headers = exc.extra.pop("headers", None)
        return problem(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers=headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
        return problem(
            422,
            "validation_error",
            "Invalid request",
            detail,
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem(
            exc.status_code,
            code,
            title,
            detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # A handler reading the body itself (a media upload) learns only here that the client
        # went away (a killed process, a cancelled upload): nothing failed on our side, so it
        # is no 500 and no traceback. Nobody reads the answer.
        log.info(
            "client closed the connection before the body arrived: %s %s",
            request.method,
            request.url.path,
        )
        return problem(
            400,
            "client_disconnected",
            "Body incomplete",
            "the connection closed before the whole request body arrived; send it again",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never leak a stack trace; the log has it.
        request_id = getattr(request.state, "request_id", "-")
        log.exception(
            "unhandled error on %s %s (request %s)", request.method, request.url.path, request_id
        )
        return problem(
            500,
            "internal_error",
            "Internal error",
            f"an unexpected error occurred; it has been logged as request {request_id}",
            instance=request.url.path,
        )
