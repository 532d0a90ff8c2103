"""Releases: the tenant's music releases and their distributions as status cards (one per
store), retried or taken down through the API."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.domain.music import Channel
from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
_RELEASES = "/app/releases"
# What each channel the API takes is to a person choosing where a release goes.
_SAID = {
    "ddex": "Stores through the distributor (DDEX): Spotify, Apple Music, YouTube Music, "
    "Amazon Music, Deezer",
    "soundcloud": "SoundCloud: the tracks and a set on the workspace's account",
}
CHANNELS = {channel: _SAID.get(channel, channel) for channel in get_args(Channel)}
CHANNEL_NAMES = {"ddex": "the stores (DDEX)", "soundcloud": "SoundCloud"}
# Stores as people know them; a store the distributor adds later shows as it reports it.
STORE_NAMES = {
    "spotify": "Spotify",
    "apple_music": "Apple Music",
    "youtube_music": "YouTube Music",
    "amazon_music": "Amazon Music",
    "deezer": "Deezer",
    "soundcloud": "SoundCloud",
}
# Which buttons a distribution shows, as the API allows them (a refusal shows its reason).
RETRYABLE = {"failed"}
REMOVABLE = {"live", "failed"}


@router.get(_RELEASES)
async def list_releases(
    request: Request,
    cursor: Annotated[str, Query(max_length=400)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """The tenant's releases, newest first, each with its latest distribution; a page at a
    time."""
    person, api = await signed_in(request)
    page = await api.get("/v1/releases", cursor=cursor, limit=limit)
    # A release's distributions are not in the list: one look-up each, made together.
    found = await asyncio.gather(
        *(api.get(f"/v1/releases/{r['id']}/distributions") for r in page["data"])
    )
    latest = {
        r["id"]: max(d["data"], key=lambda x: x["updated_at"], default=None)
        for r, d in zip(page["data"], found, strict=True)
    }
    return render(request, "releases/list.html", person=person, page=page, latest=latest,
                  limit=limit, channel_names=CHANNEL_NAMES)  # fmt: skip


async def _release_page(
    request: Request, person: Person, api: Api, release_id: str, status: int = 200, **values: Any
) -> Response:
    release = await api.get(f"/v1/releases/{release_id}")
    listed = (await api.get(f"/v1/releases/{release_id}/distributions"))["data"]
    ledgers = await asyncio.gather(
        *(api.get(f"/v1/distributions/{d['id']}/ledger") for d in listed)
    )
    values.setdefault("chosen", {})
    return render(request, "releases/show.html", status, person=person, release=release,
                  distributions=list(zip(listed, ledgers, strict=True)), channels=CHANNELS,
                  channel_names=CHANNEL_NAMES, store_names=STORE_NAMES, retryable=RETRYABLE,
                  removable=REMOVABLE, form_key=secrets.token_urlsafe(16), **values)  # fmt: skip


@router.get(_RELEASES + "/{release_id}")
async def show_release(request: Request, release_id: str) -> Response:
    """A release's facts and tracks; each distribution with a card per store, its ledger
    and its actions; the form to send the release out."""
    person, api = await signed_in(request)
    return await _release_page(request, person, api, release_id)


@router.post(_RELEASES + "/{release_id}/distributions")
async def distribute(
    request: Request,
    release_id: str,
    channels: Annotated[list[str] | None, Form()] = None,
    release_date: Annotated[str, Form(max_length=40)] = "",
    soundcloud_account_id: Annotated[str, Form(max_length=40)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Send the release out on the chosen channels; back on its page, or the form again
    with the API's reason not to."""
    person, api = await signed_in(request)
    body = {"channels": [c for c in channels or () if c], "release_date": release_date or None,
            "soundcloud_account_id": soundcloud_account_id.strip() or None}  # fmt: skip
    path = f"/v1/releases/{release_id}/distributions"
    try:
        await api.send("POST", path, body, idempotency_key=form_key or None)
    except Refused as refused:
        return await _release_page(request, person, api, release_id, refused.status,
                                   error=refused.message, chosen=body)  # fmt: skip
    return secure(RedirectResponse(f"{_RELEASES}/{release_id}", status_code=303))


async def _act(request: Request, release_id: str, distribution_id: str, action: str) -> Response:
    person, api = await signed_in(request)
    try:
        done = await api.send("POST", f"/v1/distributions/{distribution_id}/{action}")
    except Refused as refused:
        return await _release_page(request, person, api, release_id, refused.status,
                                   error=refused.message)  # fmt: skip
    return secure(RedirectResponse(f"{_RELEASES}/{done['release_id']}", status_code=303))


@router.post(_RELEASES + "/{release_id}/distributions/{distribution_id}/retry")
async def retry_distribution(request: Request, release_id: str, distribution_id: str) -> Response:
    """Deliver a failed distribution again, as a new batch."""
    return await _act(request, release_id, distribution_id, "retry")


@router.post(_RELEASES + "/{release_id}/distributions/{distribution_id}/takedown")
async def take_down(request: Request, release_id: str, distribution_id: str) -> Response:
    """Withdraw the release from every store of the distribution's channel."""
    return await _act(request, release_id, distribution_id, "takedown")
