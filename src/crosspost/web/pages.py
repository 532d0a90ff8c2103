"""Rendering the dashboard's pages and fragments, always with its security headers: scripts
from this server only (none inline), framed by nobody, cached by nobody."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from crosspost import __version__

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

# What the pages may load: their own scripts, styles, images and media; their API calls and
# event stream. No inline script or style, no eval, no other origin, no framing.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def _when(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An API timestamp as people read it (UTC, as the API gives it)."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime(fmt + " UTC")
    except ValueError:
        return value


_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(), auto_reload=False
)
_ENV.filters["when"] = _when
_ENV.globals["version"] = __version__


def secure(response: Response) -> Response:
    """`response` with the dashboard's security headers."""
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    """`template` as a page (or, for htmx, the fragment it asked for)."""
    body = _ENV.get_template(template).render(request=request, **values)
    return secure(HTMLResponse(body, status_code=status_code))
