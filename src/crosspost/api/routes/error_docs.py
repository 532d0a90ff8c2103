"""`/docs/errors`: every problem code, what it means and what to change; each problem's
`type` links to its entry here, on the server that answered."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from crosspost.api.pages import html_page
from crosspost.api.problem_types import anchor, catalogue

router = APIRouter(include_in_schema=False)


@router.get("/docs/errors")
async def error_codes() -> Response:
    """The error catalogue as a page."""
    entries = [{**entry, "anchor": anchor(entry["code"])} for entry in catalogue()]
    response = html_page("errors.html", entries=entries)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
