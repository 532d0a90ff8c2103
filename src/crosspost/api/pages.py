"""Server-rendered pages (the consent flow, the error catalogue): one template environment,
one way to answer with a page and its security headers."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGES = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(), auto_reload=False
)


def html_page(template: str, status: int = 200, *, form_to: str = "", **values: object) -> Response:
    """`template` rendered, with a policy that allows no script at all."""
    body = PAGES.get_template(template).render(**values)
    response = HTMLResponse(body, status_code=status)
    # No script at all; forms post here, and (after the consent) redirect to the app.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action 'self'{(' ' + form_to) if form_to else ''}"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
