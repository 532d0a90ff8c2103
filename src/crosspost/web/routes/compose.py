"""Compose a post: a clip uploaded with progress (the browser sends it to `POST /v1/media`
itself) or picked from the media library, a caption with per-platform overrides checked live
by `POST /v1/posts/validate`, the platforms of the tenant's accounts, now or at a time in the
person's time zone."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
_COMPOSE = "/app/compose"
# Platforms whose posts have a title besides their text (the override form shows it).
_TITLED = ("youtube", "soundcloud")


def _value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def post_body(form: FormData) -> dict[str, Any]:
    """The body of `POST /v1/posts` the compose form describes."""
    targets = [t for t in form.getlist("targets") if isinstance(t, str) and t]
    body: dict[str, Any] = {"text": _value(form, "text"), "targets": targets}
    if media_id := _value(form, "media_id"):
        body["media_id"] = media_id
    overrides: dict[str, dict[str, Any]] = {}
    for platform in targets:
        options: dict[str, Any] = {}
        if text := _value(form, f"text_{platform}"):
            options["text"] = text
        if platform in _TITLED and (title := _value(form, f"title_{platform}")):
            options["title"] = title
        if options:
            overrides[platform] = options
    if overrides:
        body["overrides"] = overrides
    if _value(form, "when") == "later":
        body["publish_at"] = _value(form, "publish_at")
        body["timezone"] = _value(form, "timezone") or "UTC"
    return body


async def _page(
    request: Request, person: Person, api: Api, status: int = 200, **values: Any
) -> Response:
    accounts = await api.get("/v1/accounts")
    media = await api.get("/v1/media", limit=20)
    platforms = sorted({a["platform"] for a in accounts if a["mode"] == person.mode})
    values.setdefault("form", {})
    values.setdefault("chosen", [])
    return render(request, "compose/form.html", status, person=person, platforms=platforms,
                  media=[m for m in media["data"] if m["status"] == "ready"], titled=_TITLED,
                  form_key=secrets.token_urlsafe(16), **values)  # fmt: skip


@router.get(_COMPOSE)
async def compose_form(request: Request) -> Response:
    """The compose form."""
    person, api = await signed_in(request)
    return await _page(request, person, api)


@router.post(_COMPOSE + "/check")
async def check(request: Request) -> Response:
    """What each platform would do with the post as it stands (a fragment, redrawn as the
    person types): its problems and warnings, from the API's own validation."""
    _, api = await signed_in(request)
    form = await request.form()
    body = post_body(form)
    text = body["text"]
    counts = {"characters": len(text), "hashtags": sum(w.startswith("#") for w in text.split())}
    if not body["targets"]:
        return render(request, "compose/check.html", counts=counts, verdict=None, error="")
    try:
        verdict = await api.send("POST", "/v1/posts/validate", body)
    except Refused as refused:
        return render(request, "compose/check.html", counts=counts, verdict=None,
                      error=refused.message, fields=refused.field_errors())  # fmt: skip
    return render(request, "compose/check.html", counts=counts, verdict=verdict, error="")


@router.post(_COMPOSE)
async def publish(request: Request) -> Response:
    """Create the post (once, however often the form is sent: its own idempotency key) and
    open its page; a refusal shows the form again, as it was, with the API's reasons."""
    person, api = await signed_in(request)
    form = await request.form()
    body = post_body(form)
    try:
        post = await api.send("POST", "/v1/posts", body,
                              idempotency_key=_value(form, "form_key") or None)  # fmt: skip
    except Refused as refused:
        kept = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return await _page(request, person, api, refused.status, form=kept,
                           chosen=body["targets"], error=refused.message,
                           fields=refused.field_errors())  # fmt: skip
    return secure(RedirectResponse(f"/app/posts/{post['id']}", status_code=303))
