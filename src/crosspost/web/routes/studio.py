"""Studio: the tenant's projects, their sources, clips and renders, read and acted on
through the API: make a project, add a source, find highlights, render a clip."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.domain.renders import Aspect, PlatformPreset, Reframe
from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
_STUDIO = "/app/studio"
_PAGE = 20
# What the project's page says after an action, by `?done=`.
_DONE = {"highlights": "Looking for highlights: the clips found join the project when the "
         "scan ends", "render": "Render queued: its status shows on the clip",
         "source": "Source added"}  # fmt: skip
# Events after which the project's clips, scans and renders are drawn again.
_LIVE_TYPES = "export.ready export.failed job.completed job.failed"
_RENDER_CHOICES = {"presets": get_args(PlatformPreset), "aspects": get_args(Aspect),
                   "reframes": get_args(Reframe)}  # fmt: skip


def _project_url(project_id: str) -> str:
    return f"{_STUDIO}/projects/{project_id}"


async def _usable_media(api: Api) -> list[dict[str, Any]]:
    """The newest ready videos and audio of the library: what a project can take as a source."""
    try:
        media = await api.get("/v1/media", limit=50)
    except Refused as refused:
        # An operator may switch the library off for a tenant: its projects still show.
        if refused.code == "feature_disabled":
            return []
        raise
    return [m for m in media["data"] if m["status"] == "ready" and m["kind"] in ("video", "audio")]


async def _list_page(
    request: Request, person: Person, api: Api, status: int = 200, cursor: str = "",
    **values: Any,
) -> Response:  # fmt: skip
    projects = await api.get("/v1/projects", cursor=cursor, limit=_PAGE)
    values.setdefault("form", {})
    return render(request, "studio/list.html", status, person=person, page=projects,
                  cursor=cursor, media=await _usable_media(api),
                  form_key=secrets.token_urlsafe(16), **values)  # fmt: skip


@router.get(_STUDIO)
async def list_projects(
    request: Request, cursor: Annotated[str, Query(max_length=400)] = ""
) -> Response:
    """The tenant's projects, newest first, a page at a time; and the form to make one."""
    person, api = await signed_in(request)
    return await _list_page(request, person, api, cursor=cursor)


@router.post(_STUDIO)
async def create_project(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    media_id: Annotated[str, Form(max_length=40)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Make a project (with its first source, if one is picked); the form's key makes a
    second press of the button the same project."""
    person, api = await signed_in(request)
    body = {"name": name.strip(), "source_media_ids": [media_id] if media_id else []}
    try:
        made = await api.send("POST", "/v1/projects", body, idempotency_key=form_key or None)
    except Refused as refused:
        return await _list_page(request, person, api, refused.status, error=refused.message,
                                fields=refused.field_errors(),
                                form={"name": name, "media_id": media_id})  # fmt: skip
    return secure(RedirectResponse(_project_url(made["id"]), status_code=303))


async def _project_values(api: Api, project_id: str, cursor: str) -> dict[str, Any]:
    """What the project's page shows: the project (a 404 for an unknown one propagates),
    a page of its clips, each with its newest renders, and its newest highlight scans."""
    project = await api.get(f"/v1/projects/{project_id}")
    clips, scans = await asyncio.gather(
        api.get(f"/v1/projects/{project_id}/clips", cursor=cursor, limit=_PAGE),
        api.get("/v1/jobs", subject_id=project_id, kind="highlights", limit=5),
    )
    renders = await asyncio.gather(
        *(api.get("/v1/renders", clip_id=clip["id"], limit=5) for clip in clips["data"])
    )
    return {"project": project, "clips": clips, "scans": scans["data"], "cursor": cursor,
            "renders": {c["id"]: r["data"] for c, r in zip(clips["data"], renders, strict=True)},
            "live_types": _LIVE_TYPES}  # fmt: skip


async def _project_page(
    request: Request, person: Person, api: Api, project_id: str, status: int = 200,
    cursor: str = "", **values: Any,
) -> Response:  # fmt: skip
    shown = await _project_values(api, project_id, cursor)
    sources = {s["media_id"] for s in shown["project"]["sources"]}
    media = [m for m in await _usable_media(api) if m["id"] not in sources]
    values.setdefault("asked", {})
    return render(request, "studio/project.html", status, person=person, media=media,
                  choices=_RENDER_CHOICES, form_key=secrets.token_urlsafe(16),
                  **shown, **values)  # fmt: skip


@router.get(_STUDIO + "/projects/{project_id}")
async def show_project(
    request: Request,
    project_id: str,
    cursor: Annotated[str, Query(max_length=400)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """A project: its facts and sources, its highlight scans, its clips with their renders,
    and the forms to add a source, find highlights and render a clip."""
    person, api = await signed_in(request)
    return await _project_page(request, person, api, project_id, cursor=cursor,
                               note=_DONE.get(done, ""))  # fmt: skip


@router.get(_STUDIO + "/projects/{project_id}/live")
async def project_live(
    request: Request, project_id: str, cursor: Annotated[str, Query(max_length=400)] = ""
) -> Response:
    """The project's scans and clips, as an event (a render or scan ending) redraws them."""
    person, api = await signed_in(request)
    shown = await _project_values(api, project_id, cursor)
    return render(request, "studio/live.html", person=person, choices=_RENDER_CHOICES,
                  form_key=secrets.token_urlsafe(16), **shown)  # fmt: skip


@router.post(_STUDIO + "/projects/{project_id}/sources")
async def add_source(
    request: Request, project_id: str, media_id: Annotated[str, Form(max_length=40)] = ""
) -> Response:
    """Add a ready video or audio item of the library as a source."""
    person, api = await signed_in(request)
    try:
        await api.send("POST", f"/v1/projects/{project_id}/sources", {"media_id": media_id})
    except Refused as refused:
        return await _project_page(request, person, api, project_id, refused.status,
                                   error=refused.message)  # fmt: skip
    return secure(RedirectResponse(_project_url(project_id) + "?done=source", status_code=303))


def _number(value: str) -> float | str:
    """A form's number for the API; anything else is passed on for the API to refuse."""
    try:
        return float(value)
    except ValueError:
        return value


@router.post(_STUDIO + "/projects/{project_id}/highlights")
async def find_highlights(
    request: Request,
    project_id: str,
    media_id: Annotated[str, Form(max_length=40)] = "",
    min_seconds: Annotated[str, Form(max_length=20)] = "",
    max_seconds: Annotated[str, Form(max_length=20)] = "",
    count: Annotated[str, Form(max_length=20)] = "",
    keywords: Annotated[str, Form(max_length=5000)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Scan the project's sources (or one) for highlights, as a job; blank fields take the
    API's defaults."""
    person, api = await signed_in(request)
    asked = {"media_id": media_id, "min_seconds": min_seconds, "max_seconds": max_seconds,
             "count": count, "keywords": keywords}  # fmt: skip
    body: dict[str, Any] = {k: _number(v.strip()) for k, v in asked.items()
                            if k not in ("media_id", "keywords") and v.strip()}  # fmt: skip
    if media_id:
        body["media_id"] = media_id
    if words := [w.strip() for w in keywords.split(",") if w.strip()]:
        body["keywords"] = words
    try:
        await api.send("POST", f"/v1/projects/{project_id}/highlights", body,
                       idempotency_key=form_key or None)  # fmt: skip
    except Refused as refused:
        return await _project_page(request, person, api, project_id, refused.status,
                                   error=refused.message, asked=asked)  # fmt: skip
    return secure(RedirectResponse(_project_url(project_id) + "?done=highlights", status_code=303))


@router.post(_STUDIO + "/projects/{project_id}/clips/{clip_id}/render")
async def render_clip(
    request: Request,
    project_id: str,
    clip_id: str,
    platform_preset: Annotated[str, Form(max_length=40)] = "",
    aspect: Annotated[str, Form(max_length=10)] = "",
    reframe: Annotated[str, Form(max_length=10)] = "",
    captions: Annotated[str, Form(max_length=10)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Render a clip; blank choices take the API's defaults (the preset's, the brand kit's,
    captions when the source has a transcript)."""
    person, api = await signed_in(request)
    body: dict[str, Any] = {k: v for k, v in (("platform_preset", platform_preset),
                            ("aspect", aspect), ("reframe", reframe)) if v}  # fmt: skip
    if captions in ("on", "off"):
        body["captions"] = captions == "on"
    try:
        made = await api.send("POST", f"/v1/clips/{clip_id}/renders", body,
                              idempotency_key=form_key or None)  # fmt: skip
    except Refused as refused:
        return await _project_page(request, person, api, project_id, refused.status,
                                   error=refused.message)  # fmt: skip
    # The clip's own project, whatever page the form was on.
    page = _project_url(made["project_id"]) + "?done=render"
    return secure(RedirectResponse(page, status_code=303))
