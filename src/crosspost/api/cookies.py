"""The session cookie: how it is set and cleared, the same for the API and the pages."""

from __future__ import annotations

from fastapi import Request, Response

from crosspost.api.security import SESSION_COOKIE_NAME
from crosspost.config import Settings
from crosspost.hosts import is_loopback


def secure(request: Request) -> bool:
    """Whether cookies must be `Secure`: everywhere but a loopback address."""
    return not is_loopback(request.url.hostname or "")


def set_session(response: Response, request: Request, settings: Settings, token: str) -> None:
    """Give the browser its session: HttpOnly, SameSite=Lax, Secure off loopback."""
    response.set_cookie(
        SESSION_COOKIE_NAME, token, max_age=int(settings.session_ttl_hours * 3600),
        httponly=True, secure=secure(request), samesite="lax", path="/",
    )  # fmt: skip


def clear_session(response: Response, request: Request) -> None:
    """Make the browser forget its session."""
    response.delete_cookie(SESSION_COOKIE_NAME, path="/", secure=secure(request),
                           httponly=True, samesite="lax")  # fmt: skip
