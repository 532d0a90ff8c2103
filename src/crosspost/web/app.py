"""The dashboard on an app: its routes under /app, its static files, and what a page does
when the API says no (sign in again, or the API's own explanation)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from crosspost.web.api_calls import Refused, SignedOut
from crosspost.web.pages import STATIC, render, secure
from crosspost.web.people import sign_in_url
from crosspost.web.routes import (
    accounts,
    admin,
    apps,
    calendar,
    compose,
    content,
    developers,
    posts,
    releases,
    session,
    studio,
    usage,
    webhooks,
)

ROUTERS = (
    session.router,
    posts.router,
    calendar.router,
    compose.router,
    accounts.router,
    developers.router,
    apps.router,
    webhooks.router,
    studio.router,
    content.router,
    releases.router,
    usage.router,
    admin.router,
)


class _Static(StaticFiles):
    """The dashboard's scripts and styles, with its security headers; the version in their
    URLs lets browsers keep them a day."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install(app: FastAPI) -> None:
    """Serve the dashboard from `app`."""
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.mount("/app/static", _Static(directory=STATIC), name="dashboard-static")

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, exc: SignedOut) -> Response:
        admin = request.url.path.startswith("/app/admin")
        target = "/app/admin/sign-in" if admin else sign_in_url(request)
        if request.headers.get("hx-request"):
            # htmx follows this header with a full page load (a redirect it would swap in).
            return secure(Response(status_code=204, headers={"HX-Redirect": target}))
        return secure(RedirectResponse(target, status_code=303))

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return render(request, "refused.html", exc.status, refused=exc)

    api_validation = app.exception_handlers[RequestValidationError]

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # A page's bad query or form is explained on a page; the API's stays problem+json.
        if not request.url.path.startswith("/app"):
            answered = api_validation(request, exc)
            return answered if isinstance(answered, Response) else await answered
        said = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'input'}: {e.get('msg', '')}"
            for e in exc.errors()[:5]
        )
        refused = Refused(422, {"detail": said, "code": "validation_error"})
        return render(request, "refused.html", 422, refused=refused)
