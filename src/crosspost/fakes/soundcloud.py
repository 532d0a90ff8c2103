"""Fake SoundCloud API: `POST /tracks` (multipart upload), track reads, `/me`, OAuth refresh,
and sets (`/playlists`, `/me/playlists`, in ``soundcloud_sets``).

Written from PLATFORM_PROTOCOLS.md §6 and SoundCloud's OpenAPI spec, never from our client.
Requests must carry ``Authorization: OAuth <token>`` ("Bearer" gets the real 401). The upload
is parsed with Starlette's streaming multipart parser (parts spool to temporary files), so
the fake never holds a whole file either. The audio and artwork parts are judged by their
bytes (``sniff``), as SoundCloud identifies an upload by its content, whatever its type says.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.base import (
    AbortConnection,
    Account,
    FakeConfig,
    PlatformFake,
    drain,
    header_int,
    mount_base,
    unique_id,
)
from crosspost.fakes.sniff import HEAD_BYTES, audio_format, id3v2_size, image_format
from crosspost.fakes.soundcloud_rules import (
    Track,
    check_fields,
    list_page,
    rate_limit_error,
    sc_error,
    slug,
    user_json,
)
from crosspost.fakes.soundcloud_sets import SetRoutes
from crosspost.fakes.tokens import OAuthRefusal, token_request

_TRACK_REF = re.compile(r"(?:soundcloud:tracks:)?(\d+)")
_PIECE = 64 * 1024


@dataclass(frozen=True)
class SoundCloudLimits:
    """SoundCloud's documented limits, overridable so tests can reach them cheaply."""

    access_ttl_seconds: int = 3600  # "access tokens last about 1 h"
    max_upload_bytes: int = 4 * 1024**3  # "up to 4 GB per file"
    title_max_chars: int = 100  # the upload form's limit
    page_max: int = 200  # `limit` is capped at 200 per page
    page_default: int = 50
    playlist_max_tracks: int = 500  # [U] the web app's cap; the API reference names none
    rate_limit_window: str = "PT1M"  # the injected short-window 429 (with Retry-After)
    upload_quota_window: str = "PT24H"  # SoundCloud's limits are 24 h buckets


class SoundCloudFake(PlatformFake):
    """The SoundCloud fake; mount it under ``/soundcloud``."""

    access_prefix = "2-fake-"
    authorize_path = "/authorize"  # on secure.soundcloud.com
    refresh_prefix = "rf-fake-"
    scopes = ("*",)

    def __init__(
        self,
        config: FakeConfig | None = None,
        *,
        limits: SoundCloudLimits | None = None,
        name: str = "soundcloud",
    ) -> None:
        self.limits = limits or SoundCloudLimits()
        super().__init__(config, name=name)
        self.tracks: dict[int, Track] = {}
        self.seen: list[dict[str, Any]] = []
        self.sets = SetRoutes(self)

    def api_routes(self) -> list[BaseRoute]:
        """Paths of api.soundcloud.com, plus secure.soundcloud.com's `/oauth/token`."""
        return [
            Route("/tracks", self._create_track, methods=["POST"]),
            Route("/tracks/{ref}", self._get_track, methods=["GET"]),
            Route("/tracks/{ref}", self._delete_track, methods=["DELETE"]),
            Route("/me", self._me, methods=["GET"]),
            Route("/me/tracks", self._me_tracks, methods=["GET"]),
            Route("/oauth/token", self._token, methods=["POST"]),
            *self.sets.routes(),
        ]

    def default_access_ttl(self) -> float:
        """About an hour."""
        return float(self.limits.access_ttl_seconds)

    def new_external_id(self) -> str:
        """A numeric user id."""
        return str(100_000_000 + int(unique_id(8, "0123456789")))

    def error_response(self, status: int, message: str) -> Response:
        """SoundCloud's error JSON: the status as ``message``, the detail in ``errors``."""
        return sc_error(status, f"{status} - {HTTPStatus(status).phrase}", [message])

    def server_error(self) -> Response:
        """SoundCloud's 500."""
        return sc_error(500, "Internal Server Error")

    def rate_limited(self) -> Response:
        """A short-window 429 with Retry-After and SoundCloud's rate-limit body."""
        wait = self.faults.retry_after_seconds
        body = rate_limit_error(
            429,
            name="requests",
            bucket="by-client",
            window=self.limits.rate_limit_window,
            limit=1000,
            reset_at=self.now() + wait,
        )
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})

    def quota_exceeded(self) -> Response:
        """The 429 of an exhausted 24 h upload bucket: no Retry-After, a `reset_time`."""
        now = self.now()
        body = rate_limit_error(
            429,
            name="uploads",
            bucket="by-user",
            window=self.limits.upload_quota_window,
            limit=100,
            reset_at=now - now % 86400 + 86400,
        )
        return JSONResponse(body, status_code=429)

    def clear_state(self) -> None:
        """Forget tracks, sets and seen headers."""
        self.tracks.clear()
        self.sets.clear()
        self.seen.clear()

    def state(self) -> dict[str, Any]:
        """Every track as a post, every set, the calls, and the auth/accept headers of recent
        requests."""
        now = self.now()
        posts = [
            {
                "id": str(t.id),
                "urn": t.urn,
                "account_external_id": t.account.external_id,
                "handle": t.account.handle,
                "title": t.fields["title"],
                "caption": t.fields.get("description", ""),
                "tag_list": t.fields.get("tag_list", ""),
                "sharing": t.fields.get("sharing", "public"),
                "fields": dict(t.fields),
                "size": t.size,
                "sha256": t.sha256,
                "content_type": t.content_type,
                "filename": t.filename,
                "artwork_size": t.artwork_size,
                "permalink": t.permalink,
                "status": t.state(now),
                "created_at": t.created_at,
            }
            for t in self.tracks.values()
        ]
        return {
            "platform": "soundcloud",
            "posts": posts,
            "playlists": self.sets.state(),
            "calls": dict(self.calls),
            "requests": list(self.seen),
        }

    # -- helpers -------------------------------------------------------------------------

    async def gate(self, request: Request, operation: str) -> Account | Response:
        """Count and record the call, apply faults, then check the OAuth header and Accept."""
        self.calls[operation] += 1
        header = request.headers.get("authorization") or ""
        accept = request.headers.get("accept")
        self.seen.append(
            {"operation": operation, "scheme": header.partition(" ")[0], "accept": accept}
        )
        del self.seen[:-100]
        refused = await self.injected_fault()
        if refused is None:
            scheme, _, token = header.partition(" ")
            # SoundCloud's scheme is "OAuth"; a Bearer token is refused like a missing one.
            result = (
                self.tokens.authenticate(f"Bearer {token.strip()}")
                if scheme.lower() == "oauth" and token.strip()
                else None
            )
            if not isinstance(result, Account):
                refused = sc_error(401, "")
            elif accept and "json" not in accept and "*/*" not in accept:
                refused = sc_error(406, "Not Acceptable")
            else:
                return result
        await drain(request)
        return refused

    def visible_track(self, ref: str, account: Account) -> Track | None:
        """The track `ref` (id or URN) names, unless it is another user's private one."""
        match = _TRACK_REF.fullmatch(ref)
        track = self.tracks.get(int(match[1])) if match else None
        if track is None:
            return None
        private = track.fields.get("sharing") == "private"
        return None if private and track.account is not account else track

    def _permalink(self, account: Account, wanted: str) -> str:
        taken = {t.permalink for t in self.tracks.values() if t.account is account}
        base, candidate, n = slug(wanted), slug(wanted), 0
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    # -- /me, /me/tracks, /tracks/{ref} ------------------------------------------------

    async def _me(self, request: Request) -> Response:
        account = await self.gate(request, "me.get")
        if isinstance(account, Response):
            return account
        return JSONResponse(user_json(account, mount_base(request)))

    async def _me_tracks(self, request: Request) -> Response:
        account = await self.gate(request, "me.tracks")
        if isinstance(account, Response):
            return account
        own = sorted(
            (t for t in self.tracks.values() if t.account is account),
            key=lambda t: (t.created_at, t.id),
            reverse=True,  # newest first
        )
        api, now = mount_base(request), self.now()
        return list_page(
            request.query_params,
            own,
            lambda t: t.as_json(api, now),
            url=f"{api}/me/tracks",
            default=self.limits.page_default,
            maximum=self.limits.page_max,
        )

    async def _get_track(self, request: Request) -> Response:
        account = await self.gate(request, "tracks.get")
        if isinstance(account, Response):
            return account
        track = self.visible_track(request.path_params["ref"], account)
        if track is None:
            return sc_error(404, "404 - Not Found")
        return JSONResponse(track.as_json(mount_base(request), self.now()))

    async def _delete_track(self, request: Request) -> Response:
        """DELETE /tracks/{track_urn}: 200 for the owner, after which the track is gone from
        every read; 404 for a track not there (or another user's private one); 403 for
        another user's public track."""
        account = await self.gate(request, "tracks.delete")
        if isinstance(account, Response):
            return account
        track = self.visible_track(request.path_params["ref"], account)
        if track is None:
            return sc_error(404, "404 - Not Found")
        if track.account is not account:
            return sc_error(403, "403 - Forbidden", ["only the track's owner may delete it"])
        del self.tracks[track.id]
        return JSONResponse({"status": "200 - OK"})

    # -- POST /tracks ----------------------------------------------------------------------

    async def _create_track(self, request: Request) -> Response:
        account = await self.gate(request, "tracks.create")
        if isinstance(account, Response):
            return account
        if self.faults.quota_exhausted:
            await drain(request)
            return self.quota_exceeded()
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            await drain(request)
            return sc_error(400, "Bad Request", ["the body must be multipart/form-data"])
        length = header_int(request, "content-length")
        if length is not None and length > self.limits.max_upload_bytes + 1024 * 1024:
            await drain(request)
            return sc_error(413, "Request Entity Too Large")
        if length and length > 1 and self.chance(self.faults.reset_mid_chunk_rate):
            return await self._cut(request, self.rng.randint(1, length - 1))
        try:
            form = await request.form(max_files=4, max_fields=64)
        except ClientDisconnect:
            return sc_error(400, "Bad Request", ["the connection closed mid-upload"])
        except Exception as exc:  # any parse failure is the client's 400
            await drain(request)
            return sc_error(400, "Bad Request", [f"malformed multipart body: {exc}"])
        try:
            result = await self._accept(request, account, form)
        finally:
            await form.close()
        if isinstance(result, Response):
            return result
        if self.take_drop_after_commit():
            return AbortConnection()  # the track exists; the client never hears of it
        return JSONResponse(result.as_json(mount_base(request), self.now()), status_code=201)

    async def _cut(self, request: Request, cut: int) -> Response:
        """Read `cut` bytes of the upload, then drop the connection (nothing is created)."""
        read = 0
        try:
            async for piece in request.stream():
                read += len(piece)
                if read >= cut:
                    break
        except ClientDisconnect:
            pass
        return AbortConnection()

    async def _accept(self, request: Request, account: Account, form: FormData) -> Track | Response:
        """Validate the parsed form and create the track, or answer SoundCloud's error."""
        values: dict[str, str] = {}
        for key, value in form.multi_items():
            if key.startswith("track[") and key.endswith("]") and isinstance(value, str):
                values[key[6:-1]] = value
        asset = form.get("track[asset_data]")
        if not isinstance(asset, UploadFile):
            return sc_error(422, "Unprocessable Entity", ["Asset data can't be blank"])
        asset_type = (asset.content_type or "").split(";")[0].strip().lower()
        size, digest = await _digest(asset)
        if size == 0:
            return sc_error(422, "Unprocessable Entity", ["Asset data is empty"])
        if size > self.limits.max_upload_bytes:
            return sc_error(413, "Request Entity Too Large")
        # SoundCloud judges the bytes, not the part's Content-Type: `curl -F` labels most
        # files application/octet-stream, and some clients send no Content-Type at all.
        audio = await _sniff(asset)
        if audio is None:
            return sc_error(
                422,
                "Unprocessable Entity",
                [
                    "Asset data is not audio in a supported format "
                    "(AIFF, WAVE, FLAC, OGG, MP2, MP3, AAC, AMR or WMA)"
                ],
            )
        artwork = form.get("track[artwork_data]")
        artwork_size = None
        if isinstance(artwork, UploadFile):
            # Judged by its bytes too: curl types a .jpg, but not every client types a part.
            await artwork.seek(0)
            if image_format(await artwork.read(HEAD_BYTES)) is None:
                return sc_error(
                    422, "Unprocessable Entity", ["Artwork data must be a JPEG, PNG or GIF"]
                )
            artwork_size, _ = await _digest(artwork)
        checked = check_fields(values, self.limits.title_max_chars)
        if isinstance(checked, list):
            return sc_error(422, "Unprocessable Entity", checked)
        track = Track(
            id=1_000_000_000 + int(unique_id(9, "0123456789")),
            account=account,
            fields=checked,
            permalink=self._permalink(account, checked.get("permalink") or checked["title"]),
            size=size,
            sha256=digest,
            content_type=asset_type,
            audio_format=audio,
            filename=asset.filename or "",
            created_at=self.now(),
            processing_seconds=self.faults.processing_seconds,
            fails=self.chance(self.faults.processing_fail_rate),
            artwork_size=artwork_size,
            secret_token="s-" + secrets.token_urlsafe(8),
        )
        self.tracks[track.id] = track
        return track

    # -- secure.soundcloud.com/oauth/token ------------------------------------------------

    async def _token(self, request: Request) -> Response:
        self.calls["oauth.token"] += 1
        await self.injected_latency()
        result = await token_request(
            request,
            self.tokens,
            client=(self.config.client_id, self.config.client_secret),
            client_field="client_id",
            rotate=True,  # refresh tokens are single-use
            invalid_grant="The refresh token is invalid, expired or was already used.",
        )
        if isinstance(result, OAuthRefusal):
            body = {
                "code": result.status,
                "message": result.error,
                "link": "https://developers.soundcloud.com/docs/api/guide#authentication",
                "status": f"{result.status} - {result.description}",
                "errors": [{"error_message": result.description}],
                "error": result.error,  # the deprecated field, still sent
            }
            return JSONResponse(body, status_code=result.status)
        return JSONResponse(
            {
                "access_token": result.access_token,
                "expires_in": result.expires_in,
                "refresh_token": result.refresh_token,
                "scope": " ".join(self.scopes),
            }
        )


async def _sniff(upload: UploadFile) -> str | None:
    """The audio format of a spooled part, past any ID3v2 tags, or None when it is not audio."""
    offset = 0
    for _ in range(4):  # a file may carry more than one tag; more than a few is not audio
        await upload.seek(offset)
        head = await upload.read(HEAD_BYTES)
        tag = id3v2_size(head)
        if tag is None:
            return audio_format(head)
        offset += tag
    return None


async def _digest(upload: UploadFile) -> tuple[int, str]:
    """Size and sha256 of a spooled part, read back in pieces."""
    hasher = hashlib.sha256()
    size = 0
    await upload.seek(0)
    while piece := await upload.read(_PIECE):
        hasher.update(piece)
        size += len(piece)
    return size, hasher.hexdigest()
