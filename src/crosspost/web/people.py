"""Who is signed in to the dashboard, as the API's session says; and the check that a form
was posted by the dashboard's own pages."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.requests import Request

from crosspost.api.security import SESSION_COOKIE_NAME
from crosspost.web.api_calls import CSRF_HEADER, Api, SignedOut

SIGN_IN = "/app/sign-in"


@dataclass(frozen=True)
class Person:
    """The signed-in person: who, in which tenant, with which role; the session's CSRF token
    goes with every change."""

    user_id: str
    email: str
    name: str
    tenant_id: str
    role: str
    mode: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        """Owners and admins manage keys, members and webhooks."""
        return self.role in ("owner", "admin")


async def signed_in(request: Request) -> tuple[Person, Api]:
    """The person of the request's session and an API acting as them; `SignedOut` if none.

    A change goes to the API with the CSRF token the page sent (form field or htmx header),
    never the session's own: the API refuses a change without the right one.
    """
    if SESSION_COOKIE_NAME not in request.cookies:
        raise SignedOut
    found = await Api(request).get("/v1/auth/session")
    user = found["user"]
    person = Person(
        user_id=user["id"], email=user["email"], name=user["name"] or user["email"],
        tenant_id=found["tenant_id"], role=found["role"], mode=found["mode"],
        csrf_token=found["csrf_token"],
    )  # fmt: skip
    sent = ""
    if request.method not in ("GET", "HEAD") and same_origin(request):
        sent = request.headers.get(CSRF_HEADER) or ""
        if not sent:
            value = (await request.form()).get("csrf_token")
            sent = value if isinstance(value, str) else ""
    return person, Api(request, sent)


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back to this page after."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{SIGN_IN}?next={quote(here, safe='')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a dashboard page of this server, never elsewhere."""
    if not value or not value.startswith("/app") or "\\" in value:
        return "/app"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/app"
    return value


def same_origin(request: Request) -> bool:
    """True when a browser says the form came from a page of this server (Origin, or
    Sec-Fetch-Site); a forged cross-site post says otherwise, and one saying nothing is
    refused too."""
    origin = request.headers.get("origin")
    if origin is not None:
        own = f"{request.url.scheme}://{request.url.netloc}"
        return origin == own
    return request.headers.get("sec-fetch-site") == "same-origin"
